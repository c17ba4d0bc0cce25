//! `--engine-option KEY=VALUE`: engine settings from the command line, named by their path in
//! `engines::Options` as a result file records them, e.g. `lsm.compaction=tiered`,
//! `bitcask.max_segment_bytes=16777216` or `group_commit.interval=5` (milliseconds). The
//! value is read as JSON (numbers, booleans) and otherwise taken as a string. Each value's type
//! is checked as it is set, then every setting by the engines' own range checks (each setting
//! has a range): a bad value is one line naming the setting and its range.

use engines::Options;
use serde_json::Value;

use super::CliResult;

/// Default options with every `KEY=VALUE` applied in order.
pub fn parse(pairs: &[String]) -> CliResult<Options> {
    let mut tree = serde_json::to_value(Options::default()).map_err(|e| e.to_string())?;
    for pair in pairs {
        let bad = |why: String| format!("--engine-option {pair}: {why}");
        let (key, text) = pair
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE".into()))?;
        if key == "durability" {
            return Err(bad("use --durability".into()));
        }
        let mut slot = &mut tree;
        for part in key.split('.') {
            let valid = names(slot);
            slot = match slot.get_mut(part) {
                Some(s) => s,
                None => return Err(bad(format!("no setting '{part}' here: valid are {valid}"))),
            };
        }
        if slot.is_object() {
            return Err(bad(format!(
                "'{key}' is a group of settings: name one of {}",
                names(slot)
            )));
        }
        *slot = serde_json::from_str(text.trim()).unwrap_or_else(|_| Value::from(text.trim()));
        // The type of each value is checked as it is set, so that the error names the pair;
        // the ranges at the end, once related settings (triggers, merge widths) are all set.
        serde_json::from_value::<Options>(tree.clone())
            .map_err(|e| bad(format!("not a value of this setting ({e})")))?;
    }
    let options: Options =
        serde_json::from_value(tree).map_err(|e| format!("--engine-option: {e}"))?;
    validate(&options).map_err(|e| e.to_string())?;
    Ok(options)
}

/// Every engine's own range checks.
fn validate(options: &Options) -> engines::Result<()> {
    options.validate()?;
    options.bitcask.validate()?;
    options.lsm.validate()?;
    options.btree.validate()?;
    options.null.validate()
}

fn names(v: &Value) -> String {
    match v.as_object() {
        Some(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
        None => "none (not a group of settings)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> CliResult<Options> {
        parse(&[s.to_string()])
    }

    #[test]
    fn sets_nested_fields_of_each_type() {
        let o = parse(&[
            "lsm.compaction=tiered".into(),
            "bitcask.max_segment_bytes=1048576".into(),
            "bitcask.hint_files=false".into(),
            "group_commit.interval=5".into(),
        ])
        .unwrap();
        assert_eq!(o.lsm.compaction.as_str(), "tiered");
        assert_eq!(o.bitcask.max_segment_bytes, 1 << 20);
        assert!(!o.bitcask.hint_files);
        assert_eq!(o.group_commit.interval.as_millis(), 5);
        assert_eq!(parse(&[]).unwrap(), Options::default());
    }

    #[test]
    fn bad_pairs_are_one_line_errors_that_name_the_problem() {
        let e = one("lsm.compacton=tiered").unwrap_err();
        assert!(e.contains("'compacton'") && e.contains("compaction"), "{e}");
        assert!(one("lsm").unwrap_err().contains("KEY=VALUE"));
        assert!(one("lsm=3").unwrap_err().contains("group of settings"));
        assert!(one("lsm.compaction=sideways").is_err());
        assert!(one("bitcask.max_segment_bytes=many").is_err());
        assert!(
            one("bitcask.max_segment_bytes=10").is_err(),
            "validation runs"
        );
        assert!(one("durability=sync").unwrap_err().contains("--durability"));
        assert!(one("bitcask.hint_files.x=1")
            .unwrap_err()
            .contains("not a group"));
        // Every setting has a range; sizes that would exhaust memory are refused.
        let e = one("btree.buffer_pool_bytes=1125899906842624").unwrap_err();
        assert!(
            e.contains(
                "btree.buffer_pool_bytes = 1125899906842624: must be 65536 to 1099511627776 bytes"
            ),
            "{e}"
        );
        // Related settings may come in any order.
        parse(&[
            "lsm.level0_stop_trigger=5".into(),
            "lsm.level0_slowdown_trigger=4".into(),
            "lsm.level0_compaction_trigger=2".into(),
        ])
        .unwrap();
        let e = one("lsm.memtable_bytes=18446744073709551615").unwrap_err();
        assert!(
            e.contains("lsm.memtable_bytes = 18446744073709551615: must be"),
            "{e}"
        );
        let e = one("lsm.memtable_bytes=-1").unwrap_err();
        assert!(
            e.starts_with("--engine-option lsm.memtable_bytes=-1: not a value"),
            "{e}"
        );
        for e in [e, one("group_commit.interval=0").unwrap_err()] {
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }
}
