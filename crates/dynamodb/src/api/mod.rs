//! Wire in, wire out: request parsing and validation helpers shared by the
//! operation handlers, one file per operation group.

pub mod authz;
pub mod batch;
pub mod items;
pub mod legacy;
pub mod query;
pub mod table_spec;
pub mod tables;
pub mod tags;
pub mod time_to_live;
pub mod transact;

use nimbus_core::AwsError;
use serde_json::{json, Map, Value};

use crate::error::{serialization, validation, Result};
use crate::expr::update::Update;
use crate::expr::{Cond, Path};
use crate::model::items::IndexUnits;
use crate::model::table::Table;
use crate::types::{item_from_json_in, unexpected, Item, Layer};

/// A request body: a JSON object with typed accessors that answer wrong
/// JSON types with SerializationException, as AWS's deserializer does.
/// `layer` is the validation layer the operation runs its values through.
#[derive(Clone, Copy)]
pub struct Req<'a> {
    pub map: &'a Map<String, Value>,
    pub layer: Layer,
}

impl<'a> Req<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Req { map, layer: Layer::Current }
    }

    /// The same body, validated by AWS's older layer.
    pub fn older(self) -> Self {
        Req { layer: Layer::Older, ..self }
    }

    /// A nested structure of this request, validated by the same layer.
    pub fn child(&self, map: &'a Map<String, Value>) -> Req<'a> {
        Req { map, layer: self.layer }
    }

    /// The member, treating JSON null as absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn str(&self, name: &str) -> Result<Option<&'a str>> {
        self.get(name).map(|v| v.as_str().ok_or_else(|| serialization(unexpected(v, "String")))).transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        self.get(name).map(|v| v.as_bool().ok_or_else(|| serialization(unexpected(v, "Boolean")))).transpose()
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>> {
        self.get(name)
            .map(|v| match v {
                Value::Number(n) => {
                    n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).ok_or_else(|| serialization(""))
                }
                other => Err(serialization(unexpected(other, "Integer"))),
            })
            .transpose()
    }

    pub fn object(&self, name: &str) -> Result<Option<&'a Map<String, Value>>> {
        self.get(name).map(|v| v.as_object().ok_or_else(|| serialization(unexpected(v, "Map")))).transpose()
    }

    pub fn array(&self, name: &str) -> Result<Option<&'a Vec<Value>>> {
        self.get(name).map(|v| v.as_array().ok_or_else(|| serialization(unexpected(v, "List")))).transpose()
    }

    pub fn item(&self, name: &str) -> Result<Option<Item>> {
        self.get(name).map(|v| item_from_json_in(v, self.layer)).transpose()
    }

    /// TableName of a control-plane operation: required, 3–255 of `[a-zA-Z0-9_.-]`, or the table's ARN.
    pub fn table_name(&self) -> Result<&'a str> {
        let name = self.str("TableName")?;
        let mut v = Validator::default();
        match name.filter(|n| n.starts_with("arn:")) {
            // The table's ARN may stand for its name (up to 1024 characters).
            Some(arn) => v.item_table_name(Some(arn)),
            None => v.table_name(name, "tableName"),
        }
        v.finish()?;
        Ok(name.unwrap_or_default())
    }

    /// TableName of an item operation (1–255 characters), checked by `v`.
    pub fn item_table_name(&self, v: &mut Validator) -> Result<&'a str> {
        let name = self.str("TableName")?;
        v.item_table_name(name);
        Ok(name.unwrap_or_default())
    }

    /// An enum member, checked against its allowed values.
    pub fn enum_value(&self, name: &str, field: &str, allowed: &[&str], v: &mut Validator) -> Result<Option<&'a str>> {
        let value = self.str(name)?;
        if let Some(s) = value {
            v.enumeration(s, field, allowed);
        }
        Ok(value)
    }
}

/// Collects constraint violations and reports them the way AWS does.
///
/// AWS is midway through replacing its request validation. The classic form
/// aggregates every violation in member order ("2 validation errors
/// detected: Value … at '…' failed to satisfy constraint: …; …"). PutItem,
/// UpdateItem and DeleteItem now run the new form (`Validator::modern`),
/// which reports only the first violation, in its own wording, unless a
/// required member is missing, in which case the classic form still answers.
#[derive(Default)]
pub struct Validator {
    /// Each violation: the new form's rank (it reports the table name,
    /// then ReturnValues, then the rest), classic wording, new wording.
    errors: Vec<(u8, String, String)>,
    missing_required: bool,
    modern: bool,
}

/// UpdateItem's ReturnValues in the new wording, as AWS spells it.
const MODERN_RETURN_VALUES: &str = "[ALL_OLD, UPDATED_OLD, ALL_NEW, UPDATE_NEW, NONE]";

impl Validator {
    pub fn modern() -> Self {
        Validator { modern: true, ..Default::default() }
    }

    fn classic(value: Option<&str>, field: &str, constraint: &str) -> String {
        let shown = value.map(|v| format!("'{v}'")).unwrap_or_else(|| "null".into());
        format!("Value {shown} at '{field}' failed to satisfy constraint: {constraint}")
    }

    pub fn check(&mut self, ok: bool, value: Option<&str>, field: &str, constraint: &str) {
        if !ok {
            let message = Self::classic(value, field, constraint);
            let rank = if field == "tableName" { 0 } else { 2 };
            self.errors.push((rank, message.clone(), message));
        }
    }

    /// A list member that, when present, must not be empty (AttributesToGet).
    pub fn non_empty_list(&mut self, list: Option<&Vec<Value>>, field: &str) {
        if list.is_some_and(Vec::is_empty) {
            self.check(false, Some("[]"), field, "Member must have length greater than or equal to 1");
        }
    }

    /// A key attribute name (key schemas, attribute definitions): present,
    /// and 1 to 255 bytes, unlike other attribute names.
    pub fn key_attribute_name(&mut self, name: Option<&str>, field: &str) {
        let Some(name) = name else {
            return self.not_null(false, field);
        };
        self.check(!name.is_empty(), Some(name), field, "Member must have length greater than or equal to 1");
        self.check(name.len() <= 255, Some(name), field, "Member must have length less than or equal to 255");
    }

    pub fn not_null(&mut self, present: bool, field: &str) {
        if !present {
            self.missing_required = true;
        }
        self.check(present, None, field, "Member must not be null");
    }

    pub fn enumeration(&mut self, value: &str, field: &str, allowed: &[&str]) {
        if allowed.contains(&value) {
            return;
        }
        let set = format!("[{}]", allowed.join(", "));
        let constraint = format!("Member must satisfy enum value set: {set}");
        let modern_set = if field == "returnValues" && allowed.len() == 5 { MODERN_RETURN_VALUES } else { &set };
        let modern = format!("Failed to satisfy constraint: Member must satisfy enum value set: {modern_set}");
        let rank = if field == "returnValues" { 1 } else { 2 };
        self.errors.push((rank, Self::classic(Some(value), field, &constraint), modern));
    }

    /// A table name of CreateTable and the other control-plane operations.
    pub fn table_name(&mut self, name: Option<&str>, field: &str) {
        self.name_constraints(name, field, 3);
    }

    /// The TableName of an item operation: at least one character, or a
    /// table ARN (up to 1024).
    pub fn item_table_name(&mut self, name: Option<&str>) {
        if let Some(arn) = name.filter(|n| n.starts_with("arn:")) {
            let constraint = "Member must have length less than or equal to 1024";
            self.check(arn.len() <= 1024, Some(arn), "tableName", constraint);
            return;
        }
        if name == Some("") {
            let constraint = "Member must have length greater than or equal to 1";
            self.errors.push((
                0,
                Self::classic(Some(""), "tableName", constraint),
                format!("Value at 'TableName' failed to satisfy constraint: {constraint}"),
            ));
            return;
        }
        self.name_constraints(name, "tableName", 1);
    }

    fn name_constraints(&mut self, name: Option<&str>, field: &str, min: usize) {
        let Some(name) = name else {
            self.not_null(false, field);
            return;
        };
        self.check(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'),
            Some(name),
            field,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        );
        self.check(
            name.len() >= min,
            Some(name),
            field,
            &format!("Member must have length greater than or equal to {min}"),
        );
        self.check(name.len() <= 255, Some(name), field, "Member must have length less than or equal to 255");
    }

    pub fn finish(self) -> Result<()> {
        if self.modern && !self.missing_required {
            if let Some((_, _, first)) = self.errors.into_iter().min_by_key(|(rank, _, _)| *rank) {
                return Err(validation(format!("1 validation error detected: {first}")));
            }
            return Ok(());
        }
        match self.errors.len() {
            0 => Ok(()),
            n => Err(validation(format!(
                "{n} validation error{} detected: {}",
                if n > 1 { "s" } else { "" },
                self.errors.into_iter().map(|(_, classic, _)| classic).collect::<Vec<_>>().join("; ")
            ))),
        }
    }
}

/// ReturnConsumedCapacity: NONE (or absent), TOTAL or INDEXES.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CapacityMode {
    None,
    Total,
    Indexes,
}

impl CapacityMode {
    pub fn from_request(req: &Req<'_>, v: &mut Validator) -> Result<Self> {
        Ok(
            match req.enum_value(
                "ReturnConsumedCapacity",
                "returnConsumedCapacity",
                &["INDEXES", "TOTAL", "NONE"],
                v,
            )? {
                Some("TOTAL") => CapacityMode::Total,
                Some("INDEXES") => CapacityMode::Indexes,
                _ => CapacityMode::None,
            },
        )
    }
}

/// Capacity consumed by one table (and its indexes) in one request.
pub struct Consumed {
    pub table: String,
    pub table_units: f64,
    pub gsi: Vec<(String, f64)>,
    pub lsi: Vec<(String, f64)>,
}

impl Consumed {
    pub fn new(table: &str, units: f64) -> Self {
        Consumed { table: table.to_owned(), table_units: units, gsi: vec![], lsi: vec![] }
    }

    pub fn add_indexes(&mut self, units: &[IndexUnits<'_>]) {
        for u in units {
            let list = if u.index.global { &mut self.gsi } else { &mut self.lsi };
            match list.iter_mut().find(|(n, _)| *n == u.index.name) {
                Some((_, x)) => *x += u.units,
                None => list.push((u.index.name.clone(), u.units)),
            }
        }
    }

    /// Add another write's units on the same table.
    pub fn absorb(&mut self, other: Consumed) {
        self.table_units += other.table_units;
        for (list, target) in [(other.gsi, &mut self.gsi), (other.lsi, &mut self.lsi)] {
            for (name, units) in list {
                match target.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, u)) => *u += units,
                    None => target.push((name, units)),
                }
            }
        }
    }

    /// Double everything: transactions cost two units per unit of work.
    pub fn doubled(mut self) -> Self {
        self.table_units *= 2.0;
        self.gsi.iter_mut().chain(self.lsi.iter_mut()).for_each(|(_, u)| *u *= 2.0);
        self
    }

    /// Units on the table and all its indexes.
    pub fn total(&self) -> f64 {
        self.table_units + self.gsi.iter().chain(&self.lsi).map(|(_, u)| u).sum::<f64>()
    }

    /// The ConsumedCapacity member, shaped like AWS's documented responses:
    /// `{TableName, CapacityUnits}`, plus per-table and per-index units for INDEXES.
    pub fn to_json(&self, mode: CapacityMode) -> Option<Value> {
        if mode == CapacityMode::None {
            return None;
        }
        let mut out = json!({"TableName": self.table, "CapacityUnits": self.total()});
        if mode == CapacityMode::Indexes {
            out["Table"] = json!({"CapacityUnits": self.table_units});
            let list = |l: &[(String, f64)]| -> Value {
                l.iter().map(|(n, u)| (n.clone(), json!({"CapacityUnits": u}))).collect::<Map<_, _>>().into()
            };
            if !self.gsi.is_empty() {
                out["GlobalSecondaryIndexes"] = list(&self.gsi);
            }
            if !self.lsi.is_empty() {
                out["LocalSecondaryIndexes"] = list(&self.lsi);
            }
        }
        Some(out)
    }
}

/// Reject ExpressionAttributeNames/Values when no expression uses them.
pub fn check_placeholders_used(req: &Req<'_>, expressions: &[&str]) -> Result<()> {
    if expressions.iter().any(|e| req.has(e)) {
        return Ok(());
    }
    if req.has("ExpressionAttributeNames") {
        return Err(validation("ExpressionAttributeNames can only be specified when using expressions"));
    }
    if req.has("ExpressionAttributeValues") {
        return Err(validation("ExpressionAttributeValues can only be specified when using expressions"));
    }
    Ok(())
}

/// PutItem, UpdateItem and DeleteItem report request validation failures
/// inside AWS's "1 validation error detected: " envelope (errors about the
/// item against the table's schema stay bare).
pub fn envelope(mut err: AwsError) -> AwsError {
    let wrapped = err.message.contains(" validation error") && err.message.contains(" detected: ");
    if err.code == "ValidationException" && !wrapped {
        err.message = format!("1 validation error detected: {}", err.message);
    }
    err
}

/// Key attributes hold scalars: AWS refuses an expression path that steps
/// into one (`k.x`, `k[0]`), naming the table's key before the indexes'.
pub fn check_scalar_keys<'a>(table: &Table, paths: impl IntoIterator<Item = &'a Path>) -> Result<()> {
    let nested: Vec<&str> = paths.into_iter().filter(|p| p.0.len() > 1).map(Path::head).collect();
    if nested.is_empty() {
        return Ok(());
    }
    let refuse = |kind: &str, name: &str| {
        Err(validation(format!(
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: {kind}: {name}"
        )))
    };
    let stepped_into = |a: &&crate::model::table::KeyAttr| nested.contains(&a.name.as_str());
    if let Some(a) = table.key.attrs().find(stepped_into) {
        return refuse("Key", &a.name);
    }
    if let Some(a) = table.lsis.iter().chain(&table.gsis).flat_map(|i| i.key.attrs()).find(stepped_into) {
        return refuse("IndexKey", &a.name);
    }
    Ok(())
}

/// What AWS checks of a write's expressions against the table's keys, once
/// no key attribute is an update target: the index key types the update
/// shows, then paths into key attributes.
pub fn check_write_expressions(table: &Table, update: Option<&Update>, condition: Option<&Cond>) -> Result<()> {
    if let Some(u) = update {
        check_index_key_types(table, u)?;
    }
    check_scalar_keys(
        table,
        update.into_iter().flat_map(Update::paths).chain(condition.into_iter().flat_map(Cond::paths)),
    )
}

/// An update that surely gives an index key attribute a value of another
/// type is refused before the item is read.
fn check_index_key_types(table: &Table, update: &Update) -> Result<()> {
    for (name, actual) in update.assigned_types() {
        for index in table.indexes() {
            if let Some(attr) = index.key.attrs().find(|a| a.name == name && a.kind.as_str() != actual) {
                return Err(crate::error::invalid_parameter(format!(
                    "Type mismatch for Index Key {name} Expected: {} Actual: {actual} IndexName: {}",
                    attr.kind.as_str(),
                    index.name
                )));
            }
        }
    }
    Ok(())
}

/// "Can not use both expression and non-expression parameters in the same request".
pub fn check_no_mixing(req: &Req<'_>, legacy: &[&str], expressions: &[&str]) -> Result<()> {
    let old: Vec<&str> = legacy.iter().copied().filter(|p| req.has(p)).collect();
    let new: Vec<&str> = expressions.iter().copied().filter(|p| req.has(p)).collect();
    if !old.is_empty() && !new.is_empty() {
        return Err(validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            old.join(", "),
            new.join(", ")
        )));
    }
    Ok(())
}
