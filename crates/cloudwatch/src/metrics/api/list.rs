//! ListMetrics: by namespace, name, dimension filters, RecentlyActive.

use nimbus_core::{AwsError, AwsRequest};
use serde_json::{json, Map, Value};

use super::{dimensions_json, opt_str, req_str};
use crate::metrics::errors::{self, invalid_value};
use crate::metrics::model;
use crate::metrics::MetricsService;
use crate::wire::{self, Object};

const PAGE: usize = 500;
const THREE_HOURS_MS: i64 = 3 * 3_600_000;
const TWO_WEEKS_MS: i64 = 14 * 86_400_000;

impl MetricsService {
    pub(crate) fn list_metrics(&self, request: &AwsRequest, body: Object) -> Result<Value, AwsError> {
        let namespace = opt_str(&body, "Namespace")?;
        let name = opt_str(&body, "MetricName")?;
        let mut filters: Vec<(String, Option<String>)> = Vec::new();
        let items = wire::opt_array(&body, "Dimensions").map_err(invalid_value)?;
        if items.len() > 10 {
            return Err(invalid_value("The collection Dimensions must not have a size greater than 10."));
        }
        for (i, item) in items.iter().enumerate() {
            let Value::Object(item) = item else {
                return Err(invalid_value(format!("The parameter Dimensions.member.{} is invalid.", i + 1)));
            };
            let dim = req_str(item, "Name", &format!("Dimensions.member.{}.Name", i + 1))?;
            filters.push((dim.to_owned(), opt_str(item, "Value")?.map(str::to_owned)));
        }
        let recent = match opt_str(&body, "RecentlyActive")? {
            None => false,
            Some("PT3H") => true,
            Some(other) => {
                return Err(invalid_value(format!("The value {other} for parameter RecentlyActive is invalid.")))
            }
        };
        request.authorize("cloudwatch:ListMetrics", "*")?;
        let start = match opt_str(&body, "NextToken")? {
            None => 0,
            Some(token) => {
                token.strip_prefix("m/").and_then(|n| n.parse::<usize>().ok()).ok_or_else(errors::invalid_token)?
            }
        };
        // A name without a namespace cannot narrow the scan; filter instead.
        let prefix = model::series_prefix(namespace, namespace.and(name));
        let now = nimbus_core::time::now_epoch_millis() as i64;
        let matching: Vec<model::SeriesRecord> = model::list_series(self.store.as_ref(), &prefix)
            .map_err(errors::store)?
            .into_iter()
            .filter(|r| namespace.is_none_or(|ns| r.id.namespace == ns))
            .filter(|r| name.is_none_or(|n| r.id.name == n))
            .filter(|r| {
                filters.iter().all(|(fname, fvalue)| {
                    r.id.dimensions.iter().any(|(n, v)| n == fname && fvalue.as_ref().is_none_or(|fv| fv == v))
                })
            })
            // ListMetrics shows metrics with data in the last two weeks.
            .filter(|r| r.last_put >= now - TWO_WEEKS_MS)
            .filter(|r| !recent || r.last_put >= now - THREE_HOURS_MS)
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(PAGE)
            .map(|r| json!({"Namespace": r.id.namespace, "MetricName": r.id.name, "Dimensions": dimensions_json(&r.id.dimensions)}))
            .collect();
        let mut out = Map::new();
        let end = start + page.len();
        out.insert("Metrics".into(), Value::Array(page));
        if end < matching.len() {
            out.insert("NextToken".into(), Value::from(format!("m/{end}")));
        }
        Ok(Value::Object(out))
    }
}
