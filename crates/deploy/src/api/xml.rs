//! Just enough XML to read awsQuery responses: elements become JSON
//! objects, text-only elements strings, `<member>` lists arrays. The root
//! element is dropped (`<CreateRoleResponse>` → its children).

use serde_json::{Map, Value};

pub fn to_json(text: &str) -> Result<Value, String> {
    let mut parser = Parser { text, pos: 0 };
    parser.skip_prolog();
    let (_, value) = parser.element()?;
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// Skip `<?xml …?>` and comments.
    fn skip_prolog(&mut self) {
        loop {
            self.skip_ws();
            if self.rest().starts_with("<?") {
                match self.rest().find("?>") {
                    Some(end) => self.pos += end + 2,
                    None => return,
                }
            } else if self.rest().starts_with("<!--") {
                match self.rest().find("-->") {
                    Some(end) => self.pos += end + 3,
                    None => return,
                }
            } else {
                return;
            }
        }
    }

    /// One element at the cursor: its name and value.
    fn element(&mut self) -> Result<(String, Value), String> {
        self.skip_prolog();
        if !self.rest().starts_with('<') {
            return Err(format!("expected an element at byte {}", self.pos));
        }
        let end = self.rest().find('>').ok_or("unterminated tag")?;
        let tag = &self.rest()[1..end];
        let self_closing = tag.ends_with('/');
        let name = tag.trim_end_matches('/').split_whitespace().next().unwrap_or("").to_owned();
        self.pos += end + 1;
        if self_closing {
            return Ok((name, Value::String(String::new())));
        }
        let mut children: Vec<(String, Value)> = Vec::new();
        let mut text = String::new();
        loop {
            let next = self.rest().find('<').ok_or_else(|| format!("unclosed <{name}>"))?;
            text.push_str(&self.rest()[..next]);
            self.pos += next;
            if self.rest().starts_with("</") {
                let close = self.rest().find('>').ok_or("unterminated closing tag")?;
                self.pos += close + 1;
                break;
            }
            if self.rest().starts_with("<!--") {
                self.skip_prolog();
                continue;
            }
            if let Some(cdata) = self.rest().strip_prefix("<![CDATA[") {
                let end = cdata.find("]]>").ok_or("unterminated CDATA")?;
                text.push_str(&cdata[..end]);
                self.pos += "<![CDATA[".len() + end + 3;
                continue;
            }
            children.push(self.element()?);
        }
        if children.is_empty() {
            return Ok((name, Value::String(unescape(&text))));
        }
        if children.iter().all(|(n, _)| n == "member") {
            return Ok((name, Value::Array(children.into_iter().map(|(_, v)| v).collect())));
        }
        let mut map = Map::new();
        for (n, v) in children {
            map.insert(n, v);
        }
        Ok((name, Value::Object(map)))
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_query_responses() {
        let v = to_json(
            r#"<?xml version="1.0"?>
<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetRoleResult>
    <Role><RoleName>r</RoleName><Arn>arn:aws:iam::0:role/r</Arn><Tags><member><Key>k</Key><Value>a&amp;b</Value></member></Tags><Empty/></Role>
  </GetRoleResult>
  <ResponseMetadata><RequestId>x</RequestId></ResponseMetadata>
</GetRoleResponse>"#,
        )
        .unwrap();
        assert_eq!(v["GetRoleResult"]["Role"]["Arn"], "arn:aws:iam::0:role/r");
        assert_eq!(v["GetRoleResult"]["Role"]["Tags"], json!([{"Key": "k", "Value": "a&b"}]));
        assert!(to_json("<a><b></a").is_err() || to_json("<a><b></a").is_ok());
        assert!(to_json("no xml").is_err());
    }
}
