use serde_json::{json, Value};

use super::*;
use crate::types::item_from_json;

fn attrs(v: Value) -> Attrs {
    Attrs::from_request(&crate::api::Req::new(v.as_object().unwrap())).unwrap()
}

fn cond_err(src: &str, a: Value) -> String {
    let mut a = attrs(a);
    parser::condition(src, Kind::Condition, &mut a).unwrap_err().message
}

fn check(src: &str, a: Value, item: Value) -> bool {
    let mut a = attrs(a);
    let c = parser::condition(src, Kind::Condition, &mut a).unwrap();
    eval::eval(&c, &item_from_json(&item).unwrap())
}

#[test]
fn conditions_evaluate() {
    let item = json!({"a": {"N": "5"}, "s": {"S": "hello"}, "l": {"L": [{"S": "x"}, {"M": {"b": {"N": "1"}}}]},
        "ss": {"SS": ["p", "q"]}, "t": {"BOOL": true}});
    let v = json!({"ExpressionAttributeValues": {":five": {"N": "5.0"}, ":two": {"N": "2"}, ":he": {"S": "he"}}});
    assert!(check("a = :five", v.clone(), item.clone()));
    assert!(check("a BETWEEN :two AND :five AND begins_with(s, :he)", v.clone(), item.clone()));
    let names = json!({"ExpressionAttributeNames": {"#l": "l"}, "ExpressionAttributeValues": {":one": {"N": "1"}}});
    assert!(check("#l[1].b = :one", names.clone(), item.clone()));
    assert!(check("size(#l) > :one", names, item.clone()));
    let x = json!({"ExpressionAttributeValues": {":x": {"S": "x"}, ":p": {"S": "p"}}});
    assert!(check(
        "contains(l, :x) AND contains(ss, :p) AND attribute_exists(t) AND attribute_not_exists(zz)",
        x,
        item.clone()
    ));
    // NOT binds tighter than AND, AND tighter than OR.
    let b = json!({"ExpressionAttributeValues": {":t": {"BOOL": true}, ":f": {"BOOL": false}}});
    assert!(check("t = :f AND t = :f OR t = :t", b.clone(), item.clone()));
    assert!(!check("NOT t = :t AND t = :t", b.clone(), item.clone()));
    assert!(check("absent <> :t", b.clone(), item.clone()));
    assert!(check("t IN (:f, :t)", b, item.clone()));
    let ty = json!({"ExpressionAttributeValues": {":ty": {"S": "SS"}}});
    assert!(check("attribute_type(ss, :ty)", ty, item));
}

#[test]
fn condition_errors_match_aws() {
    let v = json!({"ExpressionAttributeValues": {":v": {"N": "1"}}});
    assert_eq!(cond_err("", v.clone()), "Invalid ConditionExpression: The expression can not be empty;");
    assert_eq!(
        cond_err("a = :x", v.clone()),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :x"
    );
    assert_eq!(
        cond_err("#n = :v", v.clone()),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #n"
    );
    assert_eq!(
        cond_err("name = :v", v.clone()),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    );
    assert_eq!(
        cond_err("a = ", v.clone()),
        "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \""
    );
    assert_eq!(
        cond_err("a = :v AND", v.clone()),
        "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\""
    );
    assert_eq!(
        cond_err("a == :v", v.clone()),
        "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"== :v\""
    );
    assert_eq!(cond_err("foo(a)", v.clone()), "Invalid ConditionExpression: Invalid function name; function: foo");
    assert_eq!(
        cond_err("attribute_exists(a, b)", v.clone()),
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"
    );
    assert_eq!(
        cond_err("begins_with(a, :v)", v.clone()),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
    assert_eq!(
        cond_err("a = a", json!({})),
        "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]"
    );
    assert_eq!(
        cond_err("attribute_exists(a) = :v", v.clone()),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_exists"
    );
    assert_eq!(
        cond_err("((a = :v))", v.clone()),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    let between = json!({"ExpressionAttributeValues": {":a": {"N": "5"}, ":b": {"N": "1"}}});
    assert_eq!(
        cond_err("x BETWEEN :a AND :b", between),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"
    );
    let mut unused = attrs(json!({"ExpressionAttributeValues": {":v": {"N": "1"}, ":w": {"N": "2"}}}));
    parser::condition("a = :v", Kind::Condition, &mut unused).unwrap();
    assert_eq!(
        unused.check_unused().unwrap_err().message,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"
    );
}

fn updated(src: &str, a: Value, item: Value) -> Result<Value> {
    let mut a = attrs(a);
    let u = update::parse(src, &mut a)?;
    let mut item = item_from_json(&item).unwrap();
    update::apply(&u, &mut item)?;
    Ok(serde_json::to_value(&item).unwrap())
}

#[test]
fn updates_apply() {
    let item = json!({"n": {"N": "1"}, "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}, "m": {"M": {"x": {"S": "y"}}},
        "ss": {"SS": ["a", "b"]}, "ss2": {"SS": ["a", "b"]}});
    let vals = json!({"ExpressionAttributeValues": {":one": {"N": "1"}, ":l": {"L": [{"N": "4"}]}, ":s": {"SS": ["b", "c"]},
        ":d": {"SS": ["a"]}, ":z": {"S": "z"}}});
    let out = updated(
        "SET n = n + :one, l = list_append(l, :l), m.k = if_not_exists(m.k, :z) REMOVE m.x ADD ss :s, cnt :one DELETE ss2 :d",
        vals,
        item.clone(),
    )
    .unwrap();
    assert_eq!(out["n"], json!({"N": "2"}));
    assert_eq!(out["l"]["L"].as_array().unwrap().len(), 4);
    assert_eq!(out["m"], json!({"M": {"k": {"S": "z"}}}));
    assert_eq!(out["ss"], json!({"SS": ["a", "b", "c"]}));
    assert_eq!(out["ss2"], json!({"SS": ["b"]}));
    assert_eq!(out["cnt"], json!({"N": "1"}));
    let out = updated("REMOVE l[0], l[2]", json!({}), item.clone()).unwrap();
    assert_eq!(out["l"], json!({"L": [{"N": "2"}]}));
    let err =
        updated("SET q.r = :z", json!({"ExpressionAttributeValues": {":z": {"S": "z"}}}), item.clone()).unwrap_err();
    assert_eq!(err.message, "The document path provided in the update expression is invalid for update");
    let err = updated("SET n = nope + :one", json!({"ExpressionAttributeValues": {":one": {"N": "1"}}}), item.clone())
        .unwrap_err();
    assert_eq!(err.message, "The provided expression refers to an attribute that does not exist in the item");
}

#[test]
fn update_errors_match_aws() {
    let v = json!({"ExpressionAttributeValues": {":v": {"S": "1"}}});
    let msg = |src: &str, a: Value| update::parse(src, &mut attrs(a)).unwrap_err().message;
    assert_eq!(
        msg("SET a = :v, a.b = :v", v.clone()),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
    );
    assert_eq!(
        msg("SET a.b = :v REMOVE a[0]", v.clone()),
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]"
    );
    assert_eq!(
        msg("SET a = :v SET b = :v", v.clone()),
        "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
    );
    assert_eq!(
        msg("ADD a :v", v.clone()),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"
    );
    assert_eq!(
        msg("SET a = b + :v", v.clone()),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S"
    );
    assert_eq!(msg("SET a :v", v.clone()), "Invalid UpdateExpression: Syntax error; token: \":v\", near: \"a :v\"");
}

#[test]
fn projections() {
    let mut a = attrs(json!({"ExpressionAttributeNames": {"#m": "m"}}));
    let paths = parser::projection("a, #m.x, l[2], l[0]", &mut a).unwrap();
    let item =
        item_from_json(&json!({"a": {"S": "1"}, "b": {"S": "2"}, "m": {"M": {"x": {"N": "1"}, "y": {"N": "2"}}},
        "l": {"L": [{"S": "p"}, {"S": "q"}, {"S": "r"}]}}))
        .unwrap();
    let out = serde_json::to_value(eval::project(&item, &paths)).unwrap();
    assert_eq!(out, json!({"a": {"S": "1"}, "m": {"M": {"x": {"N": "1"}}}, "l": {"L": [{"S": "p"}, {"S": "r"}]}}));
    let err = parser::projection("a, a.b", &mut attrs(json!({}))).unwrap_err().message;
    assert!(err.starts_with("Invalid ProjectionExpression: Two document paths overlap"), "{err}");
    assert!(is_reserved("status") && is_reserved("Name") && !is_reserved("pk"));
}

#[test]
fn limits_on_size_operators_and_nesting() {
    let long = format!("a = :v AND b = :v{}", " ".repeat(4090));
    let err = parser::condition(&long, Kind::Filter, &mut attrs(json!({}))).unwrap_err().message;
    assert_eq!(
        err,
        format!(
            "Invalid FilterExpression: Expression size has exceeded the maximum allowed size; expression size: {}",
            long.len()
        )
    );
    let many = vec!["a = :v"; 151].join(" OR ");
    let err =
        parser::condition(&many, Kind::Filter, &mut attrs(json!({"ExpressionAttributeValues": {":v": {"N": "1"}}})))
            .unwrap_err()
            .message;
    assert_eq!(err, "Invalid FilterExpression: The expression contains too many operators; operator count: 301");
    let deep = format!("{}a = :v{}", "(".repeat(1000), ")".repeat(1000));
    let err = parser::condition(&deep, Kind::Filter, &mut attrs(json!({}))).unwrap_err().message;
    assert_eq!(err, "Invalid FilterExpression: The expression has redundant parentheses;");
    let nots = format!("{}a = :v", "NOT ".repeat(90));
    assert!(parser::condition(
        &nots,
        Kind::Filter,
        &mut attrs(json!({"ExpressionAttributeValues": {":v": {"N": "1"}}}))
    )
    .is_ok());
}

#[test]
fn condition_problems_report_in_written_order() {
    let v = json!({"ExpressionAttributeValues": {":n": {"N": "1"}}});
    assert!(cond_err("pk = :missing AND begins_with(sk, :n)", v.clone()).contains("attribute value: :missing"));
    assert!(cond_err("begins_with(sk, :n) AND pk = :missing", v).contains("operand type: N"));
}

#[test]
fn conditions_checked_against_the_alternator_suite() {
    let v = json!({"ExpressionAttributeValues": {":l": {"L": []}, ":n": {"N": "0"}, ":t": {"S": "N"}}});
    assert_eq!(
        cond_err("a < :l", v.clone()),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <, operand type: L"
    );
    assert_eq!(
        cond_err("if_not_exists(a, :n) = :n", v.clone()),
        "Invalid ConditionExpression: The function is not allowed in a condition expression; function: if_not_exists"
    );
    assert_eq!(cond_err("_f(a)", v.clone()), "Invalid ConditionExpression: Syntax error; token: \"_f\", near: \"_f(\"");
    assert!(check("attribute_type(:n, :t)", v.clone(), json!({})));
    let deep = format!("attribute_exists(a{})", ".b".repeat(32));
    assert_eq!(
        cond_err(&deep, v),
        "Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
}

#[test]
fn updates_checked_against_the_alternator_suite() {
    let l = |items: &[&str]| json!({"L": items.iter().map(|s| json!({"S": s})).collect::<Vec<_>>()});
    let v = json!({"ExpressionAttributeValues": {":a": l(&["a"]), ":b": l(&["b"]), ":c": l(&["c"])}});
    let err = update::parse("SET x = list_append(list_append(:a, :b), :c)", &mut attrs(v)).unwrap_err();
    assert_eq!(
        err.message,
        "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: list_append"
    );
    // Appends past the end land in index order.
    let item = json!({"l": l(&["x"])});
    let words = json!({"ExpressionAttributeValues": {":a": {"S": "a"}, ":b": {"S": "b"}, ":c": {"S": "c"}}});
    let out = updated("SET l[9] = :c, l[3] = :a, l[5] = :b", words, item).unwrap();
    assert_eq!(out["l"], l(&["x", "a", "b", "c"]));
    // REMOVE under a missing or wrong-typed parent is refused; a missing leaf is not.
    let mut item = item_from_json(&json!({"s": {"S": "v"}, "m": {"M": {}}})).unwrap();
    for bad in ["REMOVE q.r", "REMOVE s.r", "REMOVE m[0]"] {
        let u = update::parse(bad, &mut attrs(json!({}))).unwrap();
        assert!(update::apply(&u, &mut item).is_err(), "{bad}");
    }
    let u = update::parse("REMOVE m.r", &mut attrs(json!({}))).unwrap();
    assert!(update::apply(&u, &mut item).is_ok());
}

#[test]
fn operands_may_stand_in_parentheses() {
    let v = json!({"ExpressionAttributeValues": {":one": {"N": "1"}, ":two": {"N": "2"}}});
    let item = json!({"a": {"N": "1"}, "m": {"M": {"b": {"N": "2"}}}, "l": {"L": [{"N": "2"}]}});
    assert!(check("(a) = :one AND (m).b = (:two) AND (l)[0] IN ((m.b), :one)", v.clone(), item.clone()));
    assert!(check("(a) BETWEEN (:one) AND :two AND size((m)) = (:one)", v.clone(), item));
    assert_eq!(
        cond_err("((a)) = :one", v.clone()),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    // A function result or a value cannot be followed by path steps.
    assert!(cond_err("(size(a)).b = :one", v.clone()).contains("Syntax error"));
    assert!(cond_err("(:one).b = :one", v).contains("Syntax error"));
}

#[test]
fn key_condition_shapes() {
    let v = json!({"ExpressionAttributeValues": {":v": {"N": "1"}, ":s": {"S": "x"}}});
    let shape = |src: &str| {
        let c = parser::condition(src, Kind::KeyCondition, &mut attrs(v.clone())).unwrap();
        key_shape::check(&c).err().map(|e| e.message)
    };
    assert_eq!(shape("pk = :s AND sk BETWEEN :v AND :v"), None);
    assert_eq!(shape(":v < sk AND begins_with(pk, :s)"), None);
    assert_eq!(shape("pk = :s OR pk = :v").unwrap(), "Invalid operator used in KeyConditionExpression: OR");
    // The first problem written wins.
    assert_eq!(
        shape("pk = :s AND :v = :v AND sk.x = :v").unwrap(),
        "Invalid condition in KeyConditionExpression: No key attribute specified"
    );
    assert_eq!(
        shape("size(pk) = :v AND pk = sk AND :s = :s").unwrap(),
        "Invalid KeyConditionExpression: KeyConditionExpressions cannot contain nested operations"
    );
}
