//! Route keys (`GET /pets/{id}`, `ANY /{proxy+}`, `$default`) and matching
//! with API Gateway's precedence: the most specific path wins (a literal
//! segment over `{param}` over greedy `{proxy+}`), then an exact method over
//! `ANY`, and `$default` only when nothing else matches.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

#[derive(Clone, Debug)]
struct CompiledRoute {
    route_id: String,
    route_key: String,
    /// `None` for `ANY`.
    method: Option<String>,
    segments: Vec<Segment>,
}

/// A route that matched a request.
#[derive(Debug, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub route_id: &'a str,
    pub route_key: &'a str,
    /// The route's path template (`/pets/{id}`), `$default` for the default route.
    pub resource: String,
    pub path_parameters: BTreeMap<String, String>,
}

/// The best match so far while scanning routes.
struct Candidate<'a> {
    rank: Vec<u8>,
    method_rank: u8,
    route: &'a CompiledRoute,
    params: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<CompiledRoute>,
    default_route: Option<(String, String)>,
}

/// A parsed route key: its method (`None` for `ANY`) and path segments.
pub type ParsedKey = (Option<String>, Vec<Segment>);

/// Parse `METHOD /path` into its method and segments; `None` if malformed.
pub fn parse_route_key(key: &str) -> Option<ParsedKey> {
    let (method, path) = key.split_once(' ')?;
    if !path.starts_with('/') || method.is_empty() {
        return None;
    }
    let method = (method != "ANY").then(|| method.to_owned());
    let raw: Vec<&str> = path.split('/').skip(1).filter(|s| !s.is_empty()).collect();
    let mut segments = Vec::new();
    for (i, seg) in raw.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (greedy, name) = match name.strip_suffix('+') {
                Some(n) => (true, n),
                None => (false, name),
            };
            if name.is_empty() || (greedy && i + 1 != raw.len()) {
                return None;
            }
            segments.push(if greedy { Segment::Greedy(name.to_owned()) } else { Segment::Param(name.to_owned()) });
        } else {
            segments.push(Segment::Literal((*seg).to_owned()));
        }
    }
    Some((method, segments))
}

impl RouteTable {
    pub fn build<'a>(routes: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut table = RouteTable::default();
        for (key, id) in routes {
            if key == "$default" {
                table.default_route = Some((id.to_owned(), key.to_owned()));
                continue;
            }
            let Some((method, segments)) = parse_route_key(key) else { continue };
            table.routes.push(CompiledRoute { route_id: id.to_owned(), route_key: key.to_owned(), method, segments });
        }
        table
    }

    /// The best route for `method` and `path` (path as sent, without stage).
    pub fn find(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut best: Option<Candidate<'_>> = None;
        for route in &self.routes {
            let method_rank = match &route.method {
                Some(m) if m == method => 0,
                Some(_) => continue,
                None => 1,
            };
            let Some((rank, params)) = match_segments(&route.segments, &parts) else { continue };
            let better = match &best {
                None => true,
                Some(b) => (&rank, method_rank) < (&b.rank, b.method_rank),
            };
            if better {
                best = Some(Candidate { rank, method_rank, route, params });
            }
        }
        if let Some(Candidate { route, params: path_parameters, .. }) = best {
            let resource = route.route_key.split_once(' ').map_or("", |(_, p)| p).to_owned();
            return Some(RouteMatch {
                route_id: &route.route_id,
                route_key: &route.route_key,
                resource,
                path_parameters,
            });
        }
        self.default_route.as_ref().map(|(id, key)| RouteMatch {
            route_id: id,
            route_key: key,
            resource: "$default".to_owned(),
            path_parameters: BTreeMap::new(),
        })
    }
}

/// Per-segment ranks (0 literal, 1 param, 2 greedy; lower is more specific)
/// and captured parameters, if `segments` matches `parts`.
fn match_segments(segments: &[Segment], parts: &[&str]) -> Option<(Vec<u8>, BTreeMap<String, String>)> {
    let mut rank = Vec::with_capacity(segments.len());
    let mut params = BTreeMap::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Literal(text) => {
                if parts.get(i).map(|p| decode(p)) != Some(text.clone()) {
                    return None;
                }
                rank.push(0);
            }
            Segment::Param(name) => {
                params.insert(name.clone(), decode(parts.get(i)?));
                rank.push(1);
            }
            Segment::Greedy(name) => {
                if parts.len() <= i {
                    return None; // a greedy variable takes at least one segment
                }
                let rest: Vec<String> = parts[i..].iter().map(|p| decode(p)).collect();
                params.insert(name.clone(), rest.join("/"));
                rank.push(2);
                return Some((rank, params));
            }
        }
    }
    (segments.len() == parts.len()).then_some((rank, params))
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> RouteTable {
        let owned: Vec<(String, String)> = keys.iter().map(|k| (k.to_string(), k.to_string())).collect();
        RouteTable::build(owned.iter().map(|(k, id)| (k.as_str(), id.as_str())))
    }

    #[test]
    fn precedence_follows_specificity_then_method() {
        let t = table(&[
            "GET /pets/dog/1",
            "GET /pets/dog/{id}",
            "GET /pets/{proxy+}",
            "ANY /{proxy+}",
            "$default",
            "ANY /pets/dog/{id}",
        ]);
        assert_eq!(t.find("GET", "/pets/dog/1").unwrap().route_key, "GET /pets/dog/1");
        let m = t.find("GET", "/pets/dog/2").unwrap();
        assert_eq!(m.route_key, "GET /pets/dog/{id}");
        assert_eq!(m.path_parameters["id"], "2");
        assert_eq!(t.find("POST", "/pets/dog/2").unwrap().route_key, "ANY /pets/dog/{id}");
        let m = t.find("GET", "/pets/cat/a/b").unwrap();
        assert_eq!(m.route_key, "GET /pets/{proxy+}");
        assert_eq!(m.path_parameters["proxy"], "cat/a/b");
        assert_eq!(t.find("DELETE", "/other").unwrap().route_key, "ANY /{proxy+}");
        assert_eq!(t.find("GET", "/").unwrap().route_key, "$default");
    }

    #[test]
    fn no_default_means_no_match() {
        let t = table(&["GET /hello"]);
        assert!(t.find("GET", "/hello").is_some());
        assert!(t.find("POST", "/hello").is_none());
        assert!(t.find("GET", "/hello/x").is_none());
    }

    #[test]
    fn malformed_keys_are_rejected() {
        assert!(parse_route_key("GET pets").is_none());
        assert!(parse_route_key("GET /{proxy+}/x").is_none());
        assert!(parse_route_key("GET /{}").is_none());
        assert!(parse_route_key("GET /a/{b}").is_some());
    }
}
