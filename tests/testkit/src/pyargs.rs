//! Python-style argument binding, so bad calls fail with CPython's `TypeError` texts
//! (`BaseModel.search() missing 1 required positional argument: 'domain'`, `… got an unexpected
//! keyword argument 'x'`, `… takes from 2 to 5 positional arguments but 6 were given`).

use serde_json::{Map, Value};

use crate::errors::{OdooError, OdooResult, py_join_names};

/// A Python signature (without `self`, which the messages count).
pub struct Sig<'a> {
    /// Qualified name used in messages, e.g. `BaseModel.search`.
    pub qual: &'a str,
    /// Positional-or-keyword parameter names.
    pub names: &'a [&'a str],
    /// How many of `names` have no default.
    pub required: usize,
    /// Keyword-only parameter names (all with defaults).
    pub kw_only: &'a [&'a str],
    /// Accepts `**kwargs`.
    pub var_kw: bool,
    /// Counts `self` in "takes N positional arguments" (false for plain functions).
    pub has_self: bool,
}

/// Bound arguments: one slot per name in `names` then `kw_only`, plus the extra keywords.
#[derive(Debug, Default)]
pub struct Bound {
    pub slots: Vec<Option<Value>>,
    pub extra: Map<String, Value>,
}

impl Bound {
    /// The argument `i`, or `default`.
    pub fn get(&self, i: usize, default: Value) -> Value {
        self.slots.get(i).cloned().flatten().unwrap_or(default)
    }
}

/// Binds `args` / `kwargs` to `sig` like CPython does.
pub fn bind(sig: &Sig, args: &[Value], kwargs: &Map<String, Value>) -> OdooResult<Bound> {
    let offset = usize::from(sig.has_self);
    let n = sig.names.len();
    if args.len() > n {
        let given = args.len() + offset;
        let msg = if sig.required == n {
            let takes = n + offset;
            let plural = if takes == 1 { "argument" } else { "arguments" };
            format!(
                "{}() takes {takes} positional {plural} but {given} were given",
                sig.qual
            )
        } else {
            format!(
                "{}() takes from {} to {} positional arguments but {given} were given",
                sig.qual,
                sig.required + offset,
                n + offset
            )
        };
        return Err(OdooError::type_error(msg));
    }
    let mut slots: Vec<Option<Value>> = vec![None; n + sig.kw_only.len()];
    for (i, a) in args.iter().enumerate() {
        slots[i] = Some(a.clone());
    }
    let mut extra = Map::new();
    for (k, v) in kwargs {
        let pos = sig
            .names
            .iter()
            .chain(sig.kw_only.iter())
            .position(|name| name == k);
        match pos {
            Some(i) if slots[i].is_some() => {
                return Err(OdooError::type_error(format!(
                    "{}() got multiple values for argument '{k}'",
                    sig.qual
                )));
            }
            Some(i) => slots[i] = Some(v.clone()),
            None if sig.var_kw => {
                extra.insert(k.clone(), v.clone());
            }
            None => {
                return Err(OdooError::type_error(format!(
                    "{}() got an unexpected keyword argument '{k}'",
                    sig.qual
                )));
            }
        }
    }
    let missing: Vec<&str> = sig.names[..sig.required]
        .iter()
        .enumerate()
        .filter(|(i, _)| slots[*i].is_none())
        .map(|(_, n)| *n)
        .collect();
    if !missing.is_empty() {
        let plural = if missing.len() == 1 {
            "argument"
        } else {
            "arguments"
        };
        return Err(OdooError::type_error(format!(
            "{}() missing {} required positional {plural}: {}",
            sig.qual,
            missing.len(),
            py_join_names(&missing)
        )));
    }
    Ok(Bound { slots, extra })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SEARCH: Sig = Sig {
        qual: "BaseModel.search",
        names: &["domain", "offset", "limit", "order"],
        required: 1,
        kw_only: &[],
        var_kw: false,
        has_self: true,
    };

    #[test]
    fn python_messages() {
        let none = Map::new();
        let e = bind(&SEARCH, &[], &none).unwrap_err();
        assert_eq!(
            e.message,
            "BaseModel.search() missing 1 required positional argument: 'domain'"
        );
        let five = vec![json!(1); 5];
        let e = bind(&SEARCH, &five, &none).unwrap_err();
        assert_eq!(
            e.message,
            "BaseModel.search() takes from 2 to 5 positional arguments but 6 were given"
        );
        let mut kw = Map::new();
        kw.insert("count".into(), json!(true));
        let e = bind(&SEARCH, &[json!([])], &kw).unwrap_err();
        assert_eq!(
            e.message,
            "BaseModel.search() got an unexpected keyword argument 'count'"
        );
        let mut kw = Map::new();
        kw.insert("limit".into(), json!(3));
        let b = bind(&SEARCH, &[json!([])], &kw).expect("binds");
        assert_eq!(b.get(2, json!(null)), json!(3));
    }
}
