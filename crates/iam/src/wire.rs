//! The awsQuery wire: form-encoded parameters in, XML out.

use std::collections::HashMap;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use nimbus_core::error::xml_escape;
use nimbus_core::{AwsError, AwsRequest, AwsResponse};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Request parameters from the form body and the query string.
pub struct Params {
    map: HashMap<String, String>,
}

fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

impl Params {
    pub fn parse(request: &AwsRequest) -> Params {
        let mut map = HashMap::new();
        let body = std::str::from_utf8(&request.body).unwrap_or("");
        for source in [request.uri.query().unwrap_or(""), body] {
            for pair in source.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                map.insert(decode(k), decode(v));
            }
        }
        Params { map }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A required member; a missing one is reported under its Smithy member
    /// name (`UserName` → `userName`), as AWS words it.
    pub fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| {
            let mut member = name.to_owned();
            if let Some(first) = member.get_mut(0..1) {
                first.make_ascii_lowercase();
            }
            validation(format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"))
        })
    }

    /// `Tags.member.N.Key` / `.Value` pairs.
    pub fn tags(&self) -> Vec<(String, String)> {
        (1..)
            .map_while(|i| {
                let key = self.get(&format!("Tags.member.{i}.Key"))?;
                let value = self.get(&format!("Tags.member.{i}.Value")).unwrap_or("");
                Some((key.to_owned(), value.to_owned()))
            })
            .collect()
    }

    /// `Name.member.N` for each N.
    pub fn list(&self, name: &str) -> Vec<&str> {
        (1..).map_while(|i| self.get(&format!("{name}.member.{i}"))).collect()
    }

    /// `Name.member.N.field` for each N.
    pub fn list_field(&self, name: &str, field: &str) -> Vec<&str> {
        (1..).map_while(|i| self.get(&format!("{name}.member.{i}.{field}"))).collect()
    }
}

/// IAM's and STS's 400 for bad input.
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

/// A small XML writer: AWS's shapes are flat and regular enough that a
/// dependency would not pay for itself.
#[derive(Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.out.push_str(&xml_escape(text));
        self.close(tag)
    }

    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(tag, text);
        }
        self
    }

    /// `<Tag><member>…</member>…</Tag>`
    pub fn members<T>(&mut self, tag: &str, items: &[T], mut each: impl FnMut(&mut Xml, &T)) -> &mut Self {
        self.open(tag);
        for item in items {
            self.open("member");
            each(self, item);
            self.close("member");
        }
        self.close(tag)
    }

    /// `<Tags><member><Key>…</Key><Value>…</Value></member>…</Tags>`
    pub fn tags(&mut self, tags: &[(String, String)]) -> &mut Self {
        self.members("Tags", tags, |x, (k, v)| {
            x.leaf("Key", k).leaf("Value", v);
        })
    }

    pub fn string_members(&mut self, tag: &str, items: &[String]) -> &mut Self {
        self.members(tag, items, |x, s| {
            x.out.push_str(&xml_escape(s));
        })
    }
}

/// `<{Action}Response xmlns=…><{Action}Result>…</…><ResponseMetadata>…`
pub fn respond(action: &str, namespace: &str, request_id: &str, result: Option<Xml>) -> AwsResponse {
    let mut body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{namespace}\">");
    if let Some(result) = result {
        body.push_str(&format!("<{action}Result>{}</{action}Result>", result.out));
    }
    body.push_str(&format!(
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>\n",
        xml_escape(request_id)
    ));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/xml")
        .body(Bytes::from(body))
        .unwrap_or_default()
}

/// IAM's timestamps: ISO 8601 at second precision.
pub fn date(epoch_millis: i64) -> String {
    let text = nimbus_core::time::format_iso8601_millis(epoch_millis - epoch_millis.rem_euclid(1000));
    text.replace(".000Z", "Z")
}

/// IAM returns policy documents URL-encoded (the SDKs decode them).
pub fn encode_document(document: &str) -> String {
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    utf8_percent_encode(document, KEEP).to_string()
}

/// One page of `items` after `Marker`, at most `MaxItems` (default 100).
pub fn page<T>(items: Vec<T>, params: &Params) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max = match params.get("MaxItems") {
        None => 100,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{m}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"
                )))
            }
        },
    };
    let start = match params.get("Marker") {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| validation("Invalid Marker."))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = start + page.len();
    Ok((page, (next < total).then(|| next.to_string())))
}

/// `<IsTruncated>` and `<Marker>` of a paged list.
pub fn truncation(xml: &mut Xml, marker: Option<String>) {
    xml.leaf("IsTruncated", if marker.is_some() { "true" } else { "false" });
    xml.opt("Marker", marker.as_deref());
}
