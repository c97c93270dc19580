//! Checking that an object a device created is *exactly* one of our schema types.
//!
//! Hydrating a struct ignores keys it does not know and reads a missing optional field as
//! `None`. That is right for reading, but a device must not be able to smuggle unknown keys,
//! `Text` objects or counters into a document that keeps every change forever, nor write a
//! value that some other reader would parse differently (an upper-case UUID, `2026-3-5`). So a
//! created object is hydrated into its type, the value is written back into a scratch document,
//! and both trees must be equal (an absent key and `null` count as equal).

use std::collections::BTreeMap;

use automerge::{AutoCommit, Automerge, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use autosurgeon::{Hydrate, Reconcile};

/// Deeper than any object of the schema: a device's object this deep is malformed, and the limit
/// keeps recursion bounded on hostile input.
const MAX_DEPTH: usize = 8;

#[derive(Debug, PartialEq)]
enum Tree {
    Map(BTreeMap<String, Tree>),
    List(Vec<Tree>),
    Text(String),
    Table,
    Scalar(ScalarValue),
}

fn export<D: ReadDoc>(
    doc: &D,
    value: Value<'_>,
    obj: &ObjId,
    depth: usize,
) -> Result<Tree, String> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply".to_owned());
    }
    Ok(match value {
        Value::Scalar(scalar) => Tree::Scalar(scalar.into_owned()),
        Value::Object(ObjType::Map) => {
            let mut map = BTreeMap::new();
            for key in doc.keys(obj) {
                let Some((value, child)) = doc.get(obj, key.as_str()).map_err(|e| e.to_string())?
                else {
                    continue;
                };
                if matches!(&value, Value::Scalar(s) if s.is_null()) {
                    continue;
                }
                map.insert(key, export(doc, value, &child, depth + 1)?);
            }
            Tree::Map(map)
        }
        Value::Object(ObjType::List) => {
            let mut list = Vec::new();
            for index in 0..doc.length(obj) {
                let Some((value, child)) = doc.get(obj, index).map_err(|e| e.to_string())? else {
                    continue;
                };
                list.push(export(doc, value, &child, depth + 1)?);
            }
            Tree::List(list)
        }
        Value::Object(ObjType::Text) => Tree::Text(doc.text(obj).map_err(|e| e.to_string())?),
        Value::Object(ObjType::Table) => Tree::Table,
    })
}

/// Where two trees first differ, as a path below the object.
fn first_difference(actual: &Tree, expected: &Tree, path: &str) -> String {
    match (actual, expected) {
        (Tree::Map(a), Tree::Map(e)) => {
            for (key, value) in a {
                match e.get(key) {
                    None => return format!("{path}/{key} is not a field of the schema"),
                    Some(other) if other != value => {
                        return first_difference(value, other, &format!("{path}/{key}"));
                    }
                    Some(_) => {}
                }
            }
            match e.keys().find(|k| !a.contains_key(*k)) {
                Some(key) => format!("{path}/{key} is missing"),
                None => format!("{path} differs"),
            }
        }
        (Tree::List(a), Tree::List(e)) if a.len() == e.len() => a
            .iter()
            .zip(e)
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .map_or_else(
                || format!("{path} differs"),
                |(i, (x, y))| first_difference(x, y, &format!("{path}/{i}")),
            ),
        (Tree::Text(_), _) => format!("{path} is a Text object where the schema has a string"),
        _ => format!("{path} is not written as the schema writes it"),
    }
}

/// Reads the map `obj` of `doc` as a `T` and checks that it holds nothing else and nothing
/// written differently. The error says what is wrong, relative to the object.
pub(crate) fn exact<T: Hydrate + Reconcile>(doc: &Automerge, obj: &ObjId) -> Result<T, String> {
    if doc.object_type(obj).map_err(|e| e.to_string())? != ObjType::Map {
        return Err("is not a map".to_owned());
    }
    let value = T::hydrate_map(doc, obj).map_err(|e| format!("does not match the schema: {e}"))?;
    let actual = export(doc, Value::Object(ObjType::Map), obj, 0)?;
    let mut scratch = AutoCommit::new();
    autosurgeon::reconcile_prop(&mut scratch, ROOT, "value", &value).map_err(|e| e.to_string())?;
    let Some((_, written)) = scratch.get(ROOT, "value").map_err(|e| e.to_string())? else {
        return Err("could not be written back".to_owned());
    };
    let expected = export(&scratch, Value::Object(ObjType::Map), &written, 0)?;
    if actual == expected {
        Ok(value)
    } else {
        Err(first_difference(&actual, &expected, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::schema::{Author, Event};
    use automerge::transaction::Transactable;

    fn event_doc(
        extra: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &ObjId),
    ) -> (Automerge, ObjId) {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let event = tx.put_object(ROOT, "event", ObjType::Map).expect("put");
        tx.put(&event, "id", "e1").expect("put");
        tx.put(&event, "kind", "ticked").expect("put");
        tx.put(&event, "at", 5_i64).expect("put");
        tx.put(&event, "by", Author::Server.to_text()).expect("put");
        extra(&mut tx, &event);
        tx.commit();
        (doc, event)
    }

    #[test]
    fn an_exact_object_passes_and_null_equals_absent() {
        let (doc, obj) = event_doc(|tx, event| {
            tx.put(event, "detail", ScalarValue::Null).expect("put");
        });
        let event: Event = exact(&doc, &obj).expect("exact");
        assert_eq!(event.kind, "ticked");
    }

    #[test]
    fn unknown_keys_text_objects_and_odd_encodings_are_refused() {
        let (doc, obj) = event_doc(|tx, event| {
            tx.put(event, "approved", true).expect("put");
        });
        let err = exact::<Event>(&doc, &obj).expect_err("unknown key");
        assert!(err.contains("/approved is not a field"), "{err}");

        let (doc, obj) = event_doc(|tx, event| {
            let text = tx.put_object(event, "detail", ObjType::Text).expect("put");
            tx.splice_text(&text, 0, 0, "hi").expect("splice");
        });
        assert!(exact::<Event>(&doc, &obj).is_err());

        let (doc, obj) = event_doc(|tx, event| {
            tx.put(event, "by", "SERVER").expect("put");
        });
        assert!(exact::<Event>(&doc, &obj).is_err());

        let (doc, obj) = event_doc(|tx, event| {
            tx.put(event, "at", 5_u64).expect("put");
        });
        assert!(exact::<Event>(&doc, &obj).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing_forever() {
        let (doc, obj) = event_doc(|tx, event| {
            let mut parent = tx.put_object(event, "x", ObjType::Map).expect("put");
            for _ in 0..100 {
                parent = tx.put_object(&parent, "x", ObjType::Map).expect("put");
            }
        });
        let err = exact::<Event>(&doc, &obj).expect_err("too deep");
        assert!(err.contains("deep"), "{err}");
    }
}
