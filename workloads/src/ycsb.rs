//! YCSB property files, read unchanged: the core-workload format of YCSB's
//! `workloads/workloada` .. `workloadf` (Java properties: `#`/`!` comments, blank lines,
//! `key=value` or `key: value`, a trailing `\` continuing a line; unlike Java, a line with
//! only whitespace between key and value is malformed, so typos do not pass silently), plus
//! `-p key=value` overrides, which win over the file as in YCSB. An empty file, or one of
//! comments only, is an error.
//!
//! Core properties read: `recordcount`, `operationcount`, `insertstart`, `insertcount`, the
//! proportions (`read`, `update`, `insert`, `scan`, `readmodifywrite` and our `delete`),
//! `requestdistribution`, `minscanlength`, `maxscanlength`, `scanlengthdistribution`,
//! `fieldcount`, `fieldlength`, `minfieldlength`, `fieldlengthdistribution`,
//! `fieldnameprefix`, `readallfields`, `writeallfields`, `insertorder`, `zeropadding`,
//! `hotspotdatafraction`, `hotspotopnfraction`, `zipfianconstant` (our extension: YCSB
//! hard-codes 0.99), `threadcount`, `target`, `maxexecutiontime`. A record is `fieldcount`
//! fields, stored serialised as YCSB's key-value bindings store them, and an update with
//! `writeallfields=false` changes one field (read, change, write back). Unknown properties
//! come back as warnings; a malformed line or an out-of-range value is an error naming the
//! file, the line and the property; proportions must sum to 1.
//!
//! YCSB's `requestdistribution=zipfian` is its *scrambled* zipfian, and so it is here.
//! Defaults are YCSB's CoreWorkload defaults, except `recordcount` and `operationcount`,
//! which default to 1000 (YCSB's own files always set both). `exponential` request
//! distributions, `histogram` field lengths and `dataintegrity=true` are not supported and
//! are errors.

use std::fmt;
use std::path::Path;

use crate::spec::{
    FieldLengths, Fields, InsertOrder, KeyDistribution, KeySpec, OpMix, ScanLength,
    ScanLengthDistribution, SizeSpec, ValueContent, WorkloadSpec, ZIPFIAN_CONSTANT,
};

/// Where a property came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Line (1-based) of the file.
    Line(usize),
    /// A `-p` override.
    Override,
}

/// A parse or validation error: file, line and property where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YcsbError {
    pub file: String,
    pub origin: Option<Origin>,
    pub property: Option<String>,
    pub message: String,
}

impl fmt::Display for YcsbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(Origin::Line(n)) => write!(f, "{}:{n}: ", printable(&self.file))?,
            Some(Origin::Override) => write!(f, "-p override: ")?,
            None => write!(f, "{}: ", printable(&self.file))?,
        }
        if let Some(p) = &self.property {
            write!(f, "property '{}': ", printable(p))?;
        }
        f.write_str(&printable(&self.message))
    }
}

/// `text` with control characters escaped (`\u{0}`, `\u{1b}`), so that an error quoting a
/// line of a file stays one line of plain text on a terminal.
fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl std::error::Error for YcsbError {}

/// The properties of a file plus overrides, in order; later entries win.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    pub file: String,
    entries: Vec<(String, String, Origin)>,
}

/// Largest property file read (YCSB's are under 4 KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Properties we read.
const USED: &[&str] = &[
    "recordcount",
    "operationcount",
    "readproportion",
    "updateproportion",
    "insertproportion",
    "scanproportion",
    "readmodifywriteproportion",
    "deleteproportion",
    "requestdistribution",
    "minscanlength",
    "maxscanlength",
    "scanlengthdistribution",
    "fieldcount",
    "fieldlength",
    "fieldlengthdistribution",
    "insertorder",
    "zeropadding",
    "hotspotdatafraction",
    "hotspotopnfraction",
    "zipfianconstant",
    "threadcount",
    "target",
    "maxexecutiontime",
    "insertstart",
    "insertcount",
    "minfieldlength",
    "fieldnameprefix",
    "readallfields",
    "writeallfields",
    "dataintegrity",
];

/// YCSB properties that do not change what a key-value store sees (field handling, the
/// workload class, reporting); accepted without a warning.
const KNOWN_IGNORED: &[&str] = &[
    "workload",
    "readallfieldsbyname",
    "table",
    "measurementtype",
    "measurement.interval",
    "histogram.buckets",
    "hdrhistogram.percentiles",
    "status.interval",
];

impl Properties {
    /// Parses the text of a property file named `file` (for messages).
    pub fn parse(file: &str, text: &str) -> Result<Properties, YcsbError> {
        let mut props = Properties {
            file: file.to_string(),
            entries: Vec::new(),
        };
        let mut lines = text.lines().enumerate();
        while let Some((i, raw)) = lines.next() {
            let line_no = i + 1;
            let mut line = raw.trim_start().to_string();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            // Java properties: an odd number of trailing backslashes continues the line.
            while line.ends_with('\\') && (line.len() - line.trim_end_matches('\\').len()) % 2 == 1
            {
                line.pop();
                match lines.next() {
                    Some((_, next)) => line.push_str(next.trim_start()),
                    None => break,
                }
            }
            let (key, value) = split_pair(&line).ok_or_else(|| YcsbError {
                file: file.to_string(),
                origin: Some(Origin::Line(line_no)),
                property: None,
                message: format!("malformed line '{}': expected key=value", raw.trim()),
            })?;
            props.entries.push((key, value, Origin::Line(line_no)));
        }
        Ok(props)
    }

    /// Reads and parses a property file (at most [`MAX_FILE_BYTES`], UTF-8).
    pub fn read(path: &Path) -> Result<Properties, YcsbError> {
        use std::io::Read;
        let name = path.display().to_string();
        let fail = |message: String| YcsbError {
            file: name.clone(),
            origin: None,
            property: None,
            message,
        };
        let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(fail(format!(
                "larger than {MAX_FILE_BYTES} bytes: not a workload property file"
            )));
        }
        if let Some(at) = bytes.iter().position(|&b| b == 0) {
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(fail(format!(
                "a NUL byte at line {line} (byte {at}): not a text file"
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!(
                "not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let props = Properties::parse(&name, &text)?;
        if props.entries.is_empty() {
            return Err(fail(
                "no properties (the file is empty or holds only comments): a YCSB workload file sets at least its operation proportions".into(),
            ));
        }
        Ok(props)
    }

    /// Adds a `-p key=value` override.
    pub fn set_override(&mut self, pair: &str) -> Result<(), YcsbError> {
        let (k, v) = pair
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| YcsbError {
                file: self.file.clone(),
                origin: Some(Origin::Override),
                property: None,
                message: format!("'{pair}' is not key=value"),
            })?;
        self.entries
            .push((k.to_string(), v.to_string(), Origin::Override));
        Ok(())
    }

    fn get(&self, key: &str) -> Option<(&str, &Origin)> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, o)| (v.as_str(), o))
    }

    /// Property names neither read nor known to be irrelevant, for a warning.
    pub fn unknown(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, _, _) in &self.entries {
            if !USED.contains(&k.as_str())
                && !KNOWN_IGNORED.contains(&k.as_str())
                && !out.contains(k)
            {
                out.push(k.clone());
            }
        }
        out
    }

    fn err(&self, key: &str, origin: Option<&Origin>, message: String) -> YcsbError {
        YcsbError {
            file: self.file.clone(),
            origin: origin.cloned(),
            property: Some(key.to_string()),
            message,
        }
    }

    fn parse_num<T: std::str::FromStr>(
        &self,
        key: &str,
        default: T,
        what: &str,
    ) -> Result<T, YcsbError> {
        match self.get(key) {
            None => Ok(default),
            Some((v, o)) => v
                .parse::<T>()
                .map_err(|_| self.err(key, Some(o), format!("'{v}' is not {what}"))),
        }
    }

    /// `true` or `false` (in any case), as Java's `Boolean.parseBoolean` reads them; anything
    /// else is an error rather than Java's silent `false`.
    fn flag(&self, key: &str, default: bool) -> Result<bool, YcsbError> {
        match self.get(key) {
            None => Ok(default),
            Some((v, _)) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some((v, _)) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some((v, o)) => Err(self.err(key, Some(o), format!("'{v}' is not true or false"))),
        }
    }

    fn fraction(&self, key: &str, default: f64) -> Result<f64, YcsbError> {
        let v = self.parse_num::<f64>(key, default, "a number")?;
        if !(0.0..=1.0).contains(&v) {
            let o = self.get(key).map(|(_, o)| o);
            return Err(self.err(key, o, format!("{v} is out of range: must be 0 to 1")));
        }
        Ok(v)
    }

    fn positive(&self, key: &str, default: u64, max: u64) -> Result<u64, YcsbError> {
        let v = self.parse_num::<u64>(key, default, "a whole number")?;
        if v == 0 || v > max {
            let o = self.get(key).map(|(_, o)| o);
            return Err(self.err(key, o, format!("{v} is out of range: must be 1 to {max}")));
        }
        Ok(v)
    }

    fn choice<'a>(
        &'a self,
        key: &str,
        default: &'a str,
        valid: &[&str],
    ) -> Result<&'a str, YcsbError> {
        match self.get(key) {
            None => Ok(default),
            Some((v, _)) if valid.contains(&v) => Ok(v),
            Some((v, o)) => Err(self.err(
                key,
                Some(o),
                format!(
                    "'{v}' is not supported: expected one of {}",
                    valid.join(", ")
                ),
            )),
        }
    }

    /// The workload these properties describe, with YCSB's defaults for what is not set.
    pub fn to_spec(&self, name: &str) -> Result<WorkloadSpec, YcsbError> {
        let mix = OpMix {
            read: self.fraction("readproportion", 0.95)?,
            update: self.fraction("updateproportion", 0.05)?,
            insert: self.fraction("insertproportion", 0.0)?,
            read_modify_write: self.fraction("readmodifywriteproportion", 0.0)?,
            scan: self.fraction("scanproportion", 0.0)?,
            delete: self.fraction("deleteproportion", 0.0)?,
        };
        if (mix.sum() - 1.0).abs() > 1e-9 {
            return Err(YcsbError {
                file: self.file.clone(),
                origin: None,
                property: None,
                message: format!(
                    "operation proportions sum to {} (read {}, update {}, insert {}, readmodifywrite {}, scan {}, delete {}); they must sum to 1",
                    mix.sum(), mix.read, mix.update, mix.insert, mix.read_modify_write, mix.scan, mix.delete
                ),
            });
        }
        let theta = self.parse_num::<f64>("zipfianconstant", ZIPFIAN_CONSTANT, "a number")?;
        if !(theta > 0.0 && theta < 1.0) {
            let o = self.get("zipfianconstant").map(|(_, o)| o);
            return Err(self.err(
                "zipfianconstant",
                o,
                format!("{theta} is out of range: must be between 0 and 1 (exclusive)"),
            ));
        }
        let distribution = match self.choice(
            "requestdistribution",
            "uniform",
            &["uniform", "zipfian", "latest", "hotspot", "sequential"],
        )? {
            "uniform" => KeyDistribution::Uniform,
            "zipfian" => KeyDistribution::ScrambledZipfian { constant: theta },
            "latest" => KeyDistribution::Latest { constant: theta },
            "sequential" => KeyDistribution::Sequential,
            _ => KeyDistribution::Hotspot {
                hot_data_fraction: self.fraction("hotspotdatafraction", 0.2)?,
                hot_op_fraction: self.fraction("hotspotopnfraction", 0.8)?,
            },
        };
        let min_scan = self.positive("minscanlength", 1, 1_000_000)? as u32;
        let max_scan = self.positive("maxscanlength", 1000, 1_000_000)? as u32;
        if min_scan > max_scan {
            let o = self.get("minscanlength").map(|(_, o)| o);
            return Err(self.err(
                "minscanlength",
                o,
                format!("{min_scan} is above maxscanlength {max_scan}"),
            ));
        }
        let scan_dist = match self.choice(
            "scanlengthdistribution",
            "uniform",
            &["uniform", "zipfian", "constant"],
        )? {
            "uniform" => ScanLengthDistribution::Uniform,
            "zipfian" => ScanLengthDistribution::Zipfian,
            _ => ScanLengthDistribution::Fixed,
        };
        let field_count = self.positive("fieldcount", 10, 1 << 16)? as u32;
        let field_len = self.positive("fieldlength", 100, engines::MAX_VALUE_LEN as u64)? as u32;
        let min_field_len = self.parse_num::<u32>("minfieldlength", 1, "a whole number")?;
        let lengths = match self.choice(
            "fieldlengthdistribution",
            "constant",
            &["constant", "uniform", "zipfian"],
        )? {
            "constant" => FieldLengths::Constant,
            "uniform" => FieldLengths::Uniform,
            _ => FieldLengths::Zipfian,
        };
        let value_size = if lengths == FieldLengths::Constant {
            SizeSpec::Fixed { bytes: field_len }
        } else {
            if min_field_len > field_len {
                let o = self.get("minfieldlength").map(|(_, o)| o);
                return Err(self.err(
                    "minfieldlength",
                    o,
                    format!("{min_field_len} is above fieldlength {field_len}"),
                ));
            }
            SizeSpec::Uniform {
                min: min_field_len,
                max: field_len,
            }
        };
        if self.flag("dataintegrity", false)? {
            let o = self.get("dataintegrity").map(|(_, o)| o);
            return Err(self.err(
                "dataintegrity",
                o,
                "true is not supported: values are not YCSB's deterministic ones and reads are not verified".into(),
            ));
        }
        let fields = Fields {
            count: field_count,
            lengths,
            name_prefix: self
                .get("fieldnameprefix")
                .map_or("field", |(v, _)| v)
                .to_string(),
            read_all: self.flag("readallfields", true)?,
            write_all: self.flag("writeallfields", false)?,
        };
        let insert_start = self.parse_num::<u64>("insertstart", 0, "a whole number")?;
        let insert_count = match self.get("insertcount") {
            None => None,
            Some(_) => Some(self.parse_num::<u64>("insertcount", 0, "a whole number")?),
        };
        let insert_order = match self.choice("insertorder", "hashed", &["hashed", "ordered"])? {
            "hashed" => InsertOrder::Hashed,
            _ => InsertOrder::Ordered,
        };
        let padding = self.positive("zeropadding", 1, 100)? as u32;
        let threads = self.positive("threadcount", 1, 1024)? as u32;
        let target = self.parse_num::<f64>("target", 0.0, "a number")?;
        if !(target.is_finite() && target >= 0.0) {
            let o = self.get("target").map(|(_, o)| o);
            return Err(self.err(
                "target",
                o,
                format!("{target} is out of range: must be 0 or more"),
            ));
        }
        let record_count = self.parse_num::<u64>("recordcount", 1000, "a whole number")?;
        let operation_count = self.parse_num::<u64>("operationcount", 1000, "a whole number")?;
        let duration = self.parse_num::<u64>("maxexecutiontime", 0, "a whole number of seconds")?;
        let spec = WorkloadSpec {
            name: name.to_string(),
            description: format!("YCSB property file {}", self.file),
            record_count,
            operation_count,
            duration_secs: duration as f64,
            mix,
            distribution,
            key: KeySpec {
                padding,
                ..KeySpec::default()
            },
            value_size,
            scan_length: ScanLength {
                min: min_scan,
                max: max_scan,
                distribution: scan_dist,
            },
            insert_order,
            threads,
            target_rate: target,
            insert_start,
            insert_count,
            fields: Some(fields),
            values: ValueContent::YcsbText,
            ..WorkloadSpec::default()
        };
        spec.validate().map_err(|m| YcsbError {
            file: self.file.clone(),
            origin: None,
            property: None,
            message: m,
        })?;
        Ok(spec)
    }
}

/// Splits a line at the first `=` or `:` (YCSB's files use `=`). Java would also take
/// whitespace as the separator, but then any stray line parses as some property; we call a
/// line without `=` or `:`, or with a key containing spaces, malformed instead.
fn split_pair(line: &str) -> Option<(String, String)> {
    let idx = line.find(['=', ':'])?;
    let key = line[..idx].trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    Some((key.to_string(), line[idx + 1..].trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKLOAD_A: &str = "# Update heavy, as YCSB's workloada\n\
        recordcount=1000\noperationcount=1000\n\
        workload=site.ycsb.workloads.CoreWorkload\n\n\
        readallfields=true\n\
        readproportion=0.5\nupdateproportion=0.5\nscanproportion=0\ninsertproportion=0\n\
        requestdistribution=zipfian\n";

    #[test]
    fn reads_workload_a() {
        let p = Properties::parse("workloada", WORKLOAD_A).unwrap();
        let s = p.to_spec("a").unwrap();
        assert_eq!((s.record_count, s.operation_count), (1000, 1000));
        assert_eq!((s.mix.read, s.mix.update), (0.5, 0.5));
        assert_eq!(
            s.distribution,
            KeyDistribution::ScrambledZipfian { constant: 0.99 }
        );
        // Ten fields of 100 bytes, updates of one field, YCSB's value bytes.
        assert_eq!(s.value_size, SizeSpec::Fixed { bytes: 100 });
        assert_eq!(s.fields, Some(Fields::default()));
        assert_eq!(s.values, ValueContent::YcsbText);
        assert!(p.unknown().is_empty());
    }

    /// YCSB's own file, as its repository has it (a license header with trailing blanks,
    /// the old class name), reads to the same workload as ours.
    #[test]
    fn reads_ycsbs_own_file_with_its_header() {
        let header = "# Copyright (c) 2010 Yahoo! Inc. All rights reserved.        \n#      \n\n# Yahoo! Cloud System Benchmark\n# Workload A: Update heavy workload\n#                        \n";
        let text = WORKLOAD_A.replace("site.ycsb", "com.yahoo.ycsb");
        let p = Properties::parse("workloada", &format!("{header}{text}")).unwrap();
        assert!(p.unknown().is_empty());
        assert_eq!(
            p.to_spec("a").unwrap(),
            Properties::parse("workloada", WORKLOAD_A)
                .unwrap()
                .to_spec("a")
                .unwrap()
        );
    }

    /// The field properties: `readallfields`, `writeallfields`, `fieldnameprefix`,
    /// `minfieldlength` with uniform and zipfian lengths, `insertstart`/`insertcount`;
    /// `dataintegrity=true` and a flag that is not a boolean are errors.
    #[test]
    fn field_and_range_properties() {
        let text =
            "recordcount=1000\nreadallfields=false\nwriteallfields=TRUE\nfieldnameprefix=f\n\
            fieldcount=3\nfieldlength=50\nminfieldlength=5\nfieldlengthdistribution=zipfian\n\
            insertstart=100\ninsertcount=400\n";
        let s = Properties::parse("f", text).unwrap().to_spec("f").unwrap();
        assert_eq!(
            s.fields,
            Some(Fields {
                count: 3,
                lengths: FieldLengths::Zipfian,
                name_prefix: "f".into(),
                read_all: false,
                write_all: true,
            })
        );
        assert_eq!(s.value_size, SizeSpec::Uniform { min: 5, max: 50 });
        assert_eq!(s.loaded(), (100, 400));
        for (bad, want) in [
            (
                "dataintegrity=true\n",
                "property 'dataintegrity': true is not supported",
            ),
            (
                "readallfields=yes\n",
                "property 'readallfields': 'yes' is not true or false",
            ),
            (
                "recordcount=10\ninsertstart=8\ninsertcount=5\n",
                "beyond recordcount 10",
            ),
            (
                "fieldlengthdistribution=uniform\nminfieldlength=200\n",
                "property 'minfieldlength': 200 is above fieldlength 100",
            ),
        ] {
            let e = Properties::parse("f", bad)
                .unwrap()
                .to_spec("f")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn overrides_win_and_unknowns_are_listed() {
        let mut p = Properties::parse(
            "f",
            &format!("{WORKLOAD_A}frobnicate = 3\nmaxscanlength: 50\n"),
        )
        .unwrap();
        p.set_override("recordcount=77").unwrap();
        p.set_override("fieldlength=10").unwrap();
        let s = p.to_spec("a").unwrap();
        assert_eq!(s.record_count, 77);
        assert_eq!(s.value_size, SizeSpec::Fixed { bytes: 10 });
        assert_eq!(s.scan_length.max, 50);
        assert_eq!(p.unknown(), vec!["frobnicate".to_string()]);
        assert!(p.set_override("novalue").is_err());
    }

    #[test]
    fn errors_name_file_line_and_property() {
        let e = Properties::parse("w.txt", "recordcount=10\njunk line here\n").unwrap_err();
        assert_eq!(e.origin, Some(Origin::Line(2)));
        assert!(e.to_string().starts_with("w.txt:2: malformed line"), "{e}");

        let p = Properties::parse("w.txt", "recordcount=10\nreadproportion=1.5\n").unwrap();
        let e = p.to_spec("w").unwrap_err().to_string();
        assert_eq!(
            e,
            "w.txt:2: property 'readproportion': 1.5 is out of range: must be 0 to 1"
        );

        let p = Properties::parse("w.txt", "\n\nrecordcount=ten\n").unwrap();
        assert!(p
            .to_spec("w")
            .unwrap_err()
            .to_string()
            .starts_with("w.txt:3: property 'recordcount'"));

        let p = Properties::parse("w.txt", "readproportion=0.5\nupdateproportion=0.4\n").unwrap();
        let e = p.to_spec("w").unwrap_err().to_string();
        assert!(e.contains("sum to 0.9"), "{e}");

        let p = Properties::parse("w.txt", "requestdistribution=exponential\n").unwrap();
        let e = p.to_spec("w").unwrap_err().to_string();
        assert!(
            e.starts_with(
                "w.txt:1: property 'requestdistribution': 'exponential' is not supported"
            ),
            "{e}"
        );

        let mut p = Properties::parse("w.txt", "").unwrap();
        p.set_override("maxscanlength=0").unwrap();
        let e = p.to_spec("w").unwrap_err().to_string();
        assert!(
            e.starts_with("-p override: property 'maxscanlength'"),
            "{e}"
        );
    }

    #[test]
    fn core_properties_map_to_the_spec() {
        let text = "recordcount=10\noperationcount=20\nfieldcount=4\nfieldlength=25\n\
            fieldlengthdistribution=uniform\ninsertorder=ordered\nzeropadding=8\n\
            requestdistribution=hotspot\nhotspotdatafraction=0.1\nhotspotopnfraction=0.7\n\
            readproportion=0.5\nscanproportion=0.5\nupdateproportion=0\n\
            minscanlength=5\nmaxscanlength=50\nscanlengthdistribution=zipfian\n\
            threadcount=3\ntarget=500\nmaxexecutiontime=7\n";
        let s = Properties::parse("f", text).unwrap().to_spec("f").unwrap();
        assert_eq!(s.value_size, SizeSpec::Uniform { min: 1, max: 25 });
        assert_eq!(
            s.fields.as_ref().map(|f| (f.count, f.lengths)),
            Some((4, FieldLengths::Uniform))
        );
        assert_eq!(s.insert_order, InsertOrder::Ordered);
        assert_eq!(s.key.padding, 8);
        assert_eq!(
            s.distribution,
            KeyDistribution::Hotspot {
                hot_data_fraction: 0.1,
                hot_op_fraction: 0.7
            }
        );
        assert_eq!(
            s.scan_length,
            ScanLength {
                min: 5,
                max: 50,
                distribution: ScanLengthDistribution::Zipfian
            }
        );
        assert_eq!((s.threads, s.target_rate, s.duration_secs), (3, 500.0, 7.0));
        let latest = Properties::parse("f", "requestdistribution=latest\nzipfianconstant=0.8\n")
            .unwrap()
            .to_spec("f")
            .unwrap();
        assert_eq!(
            latest.distribution,
            KeyDistribution::Latest { constant: 0.8 }
        );
    }

    /// Empty files, comment-only files and files with a NUL byte are errors; no message
    /// carries a control character, so every error stays one printable line.
    #[test]
    fn empty_and_binary_files_are_one_line_errors() {
        let e = Properties::read(Path::new("/dev/null"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/dev/null: no properties"), "{e}");
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "# only a comment\n\n! and another\n").unwrap();
        let e = Properties::read(f.path()).unwrap_err().to_string();
        assert!(e.contains("no properties"), "{e}");
        std::fs::write(f.path(), "recordcount=1\nfoo\0bar=1\n").unwrap();
        let e = Properties::read(f.path()).unwrap_err().to_string();
        assert!(e.contains("a NUL byte at line 2 (byte 17)"), "{e}");
        // A control character in a line or an override is escaped in the message.
        let e = Properties::parse("f", "bad\u{1b}[31mline\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad\\u{1b}[31mline") && !e.contains('\u{1b}'),
            "{e}"
        );
        let mut p = Properties::parse("f", "").unwrap();
        p.set_override("recordcount=1\u{0}").unwrap();
        let e = p.to_spec("f").unwrap_err().to_string();
        assert!(
            e.contains("'1\\u{0}'") && !e.chars().any(char::is_control),
            "{e}"
        );
    }

    #[test]
    fn binary_and_endless_files_are_errors() {
        let e = Properties::read(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than"), "{e}");
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"recordcount=1\n\xff\xfe\n").unwrap();
        let e = Properties::read(f.path()).unwrap_err().to_string();
        assert!(e.contains("not UTF-8 text (byte 14)"), "{e}");
    }

    #[test]
    fn continuation_and_separators() {
        let p = Properties::parse(
            "f",
            "! comment\nrecordcount \\\n  = 12\noperationcount: 5\n",
        )
        .unwrap();
        let s = p.to_spec("f").unwrap();
        assert_eq!((s.record_count, s.operation_count), (12, 5));
    }

    /// Our YCSB-format files A to F parse without warnings and describe the same mixes and
    /// distributions as the `ycsb-a` .. `ycsb-f` presets.
    #[test]
    fn shipped_files_match_presets() {
        for letter in ['a', 'b', 'c', 'd', 'e', 'f'] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("ycsb/workload{letter}"));
            let p = Properties::read(&path).unwrap();
            assert!(p.unknown().is_empty(), "{letter}: {:?}", p.unknown());
            let s = p.to_spec(&format!("workload{letter}")).unwrap();
            let preset = crate::presets::preset(&format!("ycsb-{letter}")).unwrap();
            assert_eq!(s.mix, preset.mix, "workload{letter}");
            assert_eq!(s.distribution, preset.distribution, "workload{letter}");
            assert_eq!(s.value_size, preset.value_size, "workload{letter}");
            if letter == 'e' {
                assert_eq!(s.scan_length, preset.scan_length);
            }
        }
    }

    proptest::proptest! {
        /// Any text, with any overrides, parses to a spec or to an error: never a panic.
        #[test]
        fn never_panics(text in "(?s).{0,400}", over in "[a-z=0-9.]{0,30}") {
            if let Ok(mut p) = Properties::parse("fuzz", &text) {
                let _ = p.set_override(&over);
                let _ = p.to_spec("fuzz");
            }
        }

        /// Lines of known properties with arbitrary values: errors always name the line.
        #[test]
        fn value_errors_name_the_line(key in proptest::sample::select(USED.to_vec()), value in "[ -~]{0,12}") {
            let text = format!("# header\n{key}={value}\n");
            if let Err(e) = Properties::parse("f", &text).and_then(|p| p.to_spec("f")) {
                let msg = e.to_string();
                proptest::prop_assert!(msg.starts_with("f:2: ") || msg.starts_with("f: "), "{}", msg);
            }
        }
    }
}
