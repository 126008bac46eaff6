//! The resource dependency graph: who refers to whom (`Ref`, `Fn::GetAtt`,
//! `Fn::Sub`, `DependsOn`), creation order, and cycles named.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::template::intrinsics::references;
use crate::template::{resource_path, PseudoParams, Template, TemplateError};

/// Dependencies of each resource, and an order that creates dependencies first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    pub depends_on: BTreeMap<String, BTreeSet<String>>,
    /// Creation order; deletion goes in reverse.
    pub order: Vec<String>,
}

impl Graph {
    /// Build the graph of the resources in `included` (those whose Condition
    /// holds), checking that every reference names something that exists.
    pub fn build(template: &Template, included: &BTreeSet<String>) -> Result<Graph, TemplateError> {
        let params: BTreeSet<&str> =
            template.section("Parameters").into_iter().flat_map(|m| m.keys()).map(String::as_str).collect();
        let all_resources: BTreeSet<&str> = template.resources().map(|(id, _)| id.as_str()).collect();
        let pseudo = PseudoParams::new("r", "a", "s", "u");
        let known = |name: &str| name == "AWS::NoValue" || pseudo.get(name).is_some() || params.contains(name);

        let mut depends_on: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, resource) in template.resources().filter(|(id, _)| included.contains(*id)) {
            let path = resource_path(id);
            let mut deps = BTreeSet::new();
            let mut refs = Vec::new();
            for key in ["Properties", "Metadata"] {
                if let Some(v) = resource.get(key) {
                    references(v, &format!("{path}/{key}"), &mut refs);
                }
            }
            for r in refs {
                let is_resource = all_resources.contains(r.target.as_str());
                if r.attribute.is_none() && known(&r.target) {
                    continue;
                }
                if !is_resource {
                    let what = if r.attribute.is_some() {
                        "Fn::GetAtt of unknown resource"
                    } else {
                        "Ref to unknown parameter or resource"
                    };
                    return Err(template.error(&r.path, format!("{what} '{}' in {id}", r.target)));
                }
                if r.target == *id {
                    return Err(template.error(&r.path, format!("resource {id} refers to itself")));
                }
                deps.insert(r.target);
            }
            let explicit = match resource.get("DependsOn") {
                None => Vec::new(),
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                Some(_) => {
                    return Err(
                        template.error(&format!("{path}/DependsOn"), "DependsOn takes a name or a list of names")
                    )
                }
            };
            for dep in explicit {
                if !all_resources.contains(dep.as_str()) {
                    return Err(template
                        .error(&format!("{path}/DependsOn"), format!("{id} DependsOn unknown resource '{dep}'")));
                }
                deps.insert(dep);
            }
            // A dependency whose Condition is false does not exist; a Ref to it
            // only fails if evaluation actually reaches it.
            deps.retain(|d| included.contains(d));
            depends_on.insert(id.clone(), deps);
        }
        if let Some(outputs) = template.section("Outputs") {
            let mut refs = Vec::new();
            references(&Value::Object(outputs.clone()), "/Outputs", &mut refs);
            for r in refs {
                if (r.attribute.is_some() || !known(&r.target)) && !all_resources.contains(r.target.as_str()) {
                    return Err(template
                        .error(&r.path, format!("output refers to unknown resource or parameter '{}'", r.target)));
                }
            }
        }
        let order = topological_order(&depends_on).map_err(|cycle| {
            let first = cycle.first().cloned().unwrap_or_default();
            template
                .error(&resource_path(&first), format!("circular dependency between resources: {}", cycle.join(" -> ")))
        })?;
        Ok(Graph { depends_on, order })
    }

    /// The resources that depend on `id`, directly.
    pub fn dependents<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.depends_on.iter().filter(move |(_, deps)| deps.contains(id)).map(|(k, _)| k)
    }
}

/// Depth-first order, dependencies first and ties broken by name; a cycle is
/// returned as the path that closes it (`A -> B -> A`).
pub fn topological_order(depends_on: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<String>, Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        id: &str,
        depends_on: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<(), Vec<String>> {
        match marks.get(id) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|s| s == id).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(id.to_owned());
                return Err(cycle);
            }
            None => {}
        }
        marks.insert(id.to_owned(), Mark::Visiting);
        stack.push(id.to_owned());
        for dep in depends_on.get(id).into_iter().flatten() {
            visit(dep, depends_on, marks, stack, order)?;
        }
        stack.pop();
        marks.insert(id.to_owned(), Mark::Done);
        order.push(id.to_owned());
        Ok(())
    }
    let mut marks = BTreeMap::new();
    let mut order = Vec::with_capacity(depends_on.len());
    for id in depends_on.keys() {
        visit(id, depends_on, &mut marks, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(yaml: &str) -> Result<Graph, TemplateError> {
        let t = Template::parse(yaml)?;
        let all = t.resources().map(|(id, _)| id.clone()).collect();
        Graph::build(&t, &all)
    }

    #[test]
    fn orders_dependencies_first() {
        let g = graph(
            "Parameters:\n  P:\n    Type: String\n    Default: x\nResources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Role: !GetAtt Role.Arn\n      Environment:\n        Variables:\n          T: !Sub '${Table}-${P}-${AWS::Region}'\n  Role:\n    Type: AWS::IAM::Role\n  Table:\n    Type: AWS::DynamoDB::Table\n  Perm:\n    Type: AWS::Lambda::Permission\n    DependsOn: [Fn]\n",
        )
        .unwrap();
        let pos = |id: &str| g.order.iter().position(|x| x == id).unwrap();
        assert!(pos("Role") < pos("Fn"));
        assert!(pos("Table") < pos("Fn"));
        assert!(pos("Fn") < pos("Perm"));
        assert_eq!(g.dependents("Fn").collect::<Vec<_>>(), ["Perm"]);
    }

    #[test]
    fn names_cycles_with_a_line() {
        let err = graph(
            "Resources:\n  A:\n    Type: X\n    Properties:\n      V: !Ref B\n  B:\n    Type: X\n    Properties:\n      V: !GetAtt C.Arn\n  C:\n    Type: X\n    DependsOn: A\n",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "line 2: circular dependency between resources: A -> B -> C -> A");
    }

    #[test]
    fn unknown_refs_name_their_line() {
        let err = graph("Resources:\n  A:\n    Type: X\n    Properties:\n      V: !Ref Missing\n").unwrap_err();
        assert_eq!(err.line, Some(5));
        assert!(err.message.contains("'Missing'"), "{err}");
        let err = graph("Resources:\n  A:\n    Type: X\n    Properties:\n      V: !Sub '${Gone.Arn}'\n").unwrap_err();
        assert!(err.message.contains("unknown resource 'Gone'"), "{err}");
        let err = graph("Resources:\n  A:\n    Type: X\n    DependsOn: Nope\n").unwrap_err();
        assert_eq!(err.line, Some(4));
        let err = graph("Resources:\n  A:\n    Type: X\nOutputs:\n  O:\n    Value: !GetAtt Z.Arn\n").unwrap_err();
        assert_eq!(err.line, Some(6));
    }
}
