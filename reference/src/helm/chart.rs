//! A Helm chart package: a gzipped tar whose one top folder holds `Chart.yaml`. Read with the tar,
//! gzip and YAML libraries, within bounds (a package that inflates past [`MAX_INFLATED`], has
//! more than [`MAX_ENTRIES`] entries or a `Chart.yaml` over [`MAX_CHART_YAML`] is refused, so a
//! zip bomb costs nothing).

use std::io::Read;

use serde_yaml::{Mapping, Value};

/// The most a package may inflate to while `Chart.yaml` is looked for.
pub(crate) const MAX_INFLATED: u64 = 256 << 20;
/// The most entries read before giving up.
pub(crate) const MAX_ENTRIES: usize = 20_000;
/// The largest `Chart.yaml`.
pub(crate) const MAX_CHART_YAML: u64 = 1 << 20;

/// What `Chart.yaml` says, checked as Helm's own lint does on load.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Chart {
    /// `name`.
    pub name: String,
    /// `version` (SemVer 2).
    pub version: semver::Version,
    /// Every field, as written (the index shows them).
    pub fields: Mapping,
}

impl Chart {
    /// A string field.
    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    /// `version` as written (Helm keeps a leading `v` and build metadata as given).
    pub(crate) fn version_text(&self) -> &str {
        self.text("version").unwrap_or("")
    }

    /// The properties Artifactory sets on a chart: `chart.name`, `chart.version` and the other
    /// descriptive fields that are present.
    pub(crate) fn properties(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("chart.name".to_string(), self.name.clone()),
            ("chart.version".to_string(), self.version_text().to_string()),
        ];
        for (field, prop) in [
            ("appVersion", "chart.appVersion"),
            ("description", "chart.description"),
            ("apiVersion", "chart.apiVersion"),
            ("type", "chart.type"),
        ] {
            if let Some(v) = scalar(self.fields.get(field)) {
                out.push((prop.to_string(), v));
            }
        }
        if let Some(Value::Sequence(k)) = self.fields.get("keywords") {
            for v in k.iter().filter_map(|v| scalar(Some(v))) {
                out.push(("chart.keywords".to_string(), v));
            }
        }
        out
    }
}

/// A scalar as text (`appVersion: 1.2` is a number to YAML, a string to Helm).
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Counts what the gzip stream inflates to and stops at the bound.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other(format!(
                "the package inflates to more than {} MiB",
                MAX_INFLATED >> 20
            )));
        }
        let cap = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..cap])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Reads the chart in a package (`Err`: why it is not a valid chart).
pub(crate) fn read(mut package: impl Read) -> Result<Chart, String> {
    let mut magic = [0u8; 2];
    if package.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Err("not a gzipped tar archive (no gzip header)".into());
    }
    let gz = flate2::read::GzDecoder::new(std::io::Cursor::new(magic).chain(package));
    let mut tar = tar::Archive::new(Bounded {
        inner: gz,
        left: MAX_INFLATED,
    });
    let entries = tar
        .entries()
        .map_err(|e| format!("not a gzipped tar archive: {e}"))?;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries before Chart.yaml"));
        }
        let mut entry = entry.map_err(|e| format!("not a gzipped tar archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("a bad entry name: {e}"))?
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if parts.len() != 2 || parts[1] != "Chart.yaml" {
            continue;
        }
        if entry.size() > MAX_CHART_YAML {
            return Err("Chart.yaml is larger than 1 MiB".into());
        }
        let mut text = String::new();
        entry
            .by_ref()
            .take(MAX_CHART_YAML)
            .read_to_string(&mut text)
            .map_err(|e| format!("Chart.yaml cannot be read: {e}"))?;
        return parse(&text);
    }
    Err("no Chart.yaml in the package's top folder".into())
}

/// Parses and checks `Chart.yaml`.
pub(crate) fn parse(text: &str) -> Result<Chart, String> {
    let doc: Value =
        serde_yaml::from_str(text).map_err(|e| format!("Chart.yaml is not valid YAML: {e}"))?;
    let Value::Mapping(fields) = doc else {
        return Err("Chart.yaml is not a mapping".into());
    };
    let text = |k: &str| scalar(fields.get(k)).filter(|s| !s.trim().is_empty());
    let api = text("apiVersion").ok_or("Chart.yaml has no apiVersion")?;
    if api != "v1" && api != "v2" {
        return Err(format!("Chart.yaml apiVersion '{api}' is not v1 or v2"));
    }
    let name = text("name").ok_or("Chart.yaml has no name")?;
    if name.contains('/') || name.contains("..") || name.chars().any(char::is_whitespace) {
        return Err(format!("chart name '{name}' is not valid"));
    }
    let written = text("version").ok_or("Chart.yaml has no version")?;
    let version = parse_version(&written)
        .ok_or_else(|| format!("chart version '{written}' is not a valid SemVer 2 version"))?;
    Ok(Chart {
        name,
        version,
        fields,
    })
}

/// A chart version as Helm reads it (SemVer 2; a leading `v` allowed).
pub(crate) fn parse_version(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A chart package with `Chart.yaml` holding `yaml` (and a values file).
    pub(crate) fn package(dir: &str, yaml: &str) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, body) in [("Chart.yaml", yaml), ("values.yaml", "replicas: 1\n")] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("{dir}/{name}"), body.as_bytes())
                .unwrap();
        }
        let raw = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn charts_are_read_and_checked() {
        let p = package(
            "web",
            "apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: 4.5\nkeywords: [a, b]\n",
        );
        let c = read(&p[..]).unwrap();
        assert_eq!((c.name.as_str(), c.version_text()), ("web", "1.2.3"));
        assert_eq!(
            c.properties(),
            vec![
                ("chart.name".into(), "web".into()),
                ("chart.version".into(), "1.2.3".into()),
                ("chart.appVersion".into(), "4.5".into()),
                ("chart.apiVersion".into(), "v2".into()),
                ("chart.keywords".into(), "a".into()),
                ("chart.keywords".into(), "b".into()),
            ]
        );
        for (yaml, why) in [
            ("name: web\nversion: 1.0.0\n", "no apiVersion"),
            ("apiVersion: v2\nversion: 1.0.0\n", "no name"),
            (
                "apiVersion: v2\nname: web\nversion: one\n",
                "not a valid SemVer 2",
            ),
            ("apiVersion: v2\nname: [web\n", "not valid YAML"),
        ] {
            let e = read(&package("web", yaml)[..]).unwrap_err();
            assert!(e.contains(why), "{yaml}: {e}");
        }
        assert!(read(&b"not a tarball"[..]).is_err());
        // Chart.yaml deeper than the top folder does not count.
        let e = read(&package("a/b", "apiVersion: v2\nname: x\nversion: 1.0.0\n")[..]).unwrap_err();
        assert!(e.contains("no Chart.yaml"), "{e}");
    }

    #[test]
    fn a_zip_bomb_is_refused_without_inflating_it() {
        // 300 MiB of zeros in one entry before Chart.yaml, gzipped to a few hundred KiB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        {
            let mut tar = tar::Builder::new(&mut gz);
            let mut h = tar::Header::new_gnu();
            let size = 300u64 << 20;
            h.set_size(size);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, "bomb/zeros", std::io::repeat(0).take(size))
                .unwrap();
            tar.finish().unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 2 << 20);
        let e = read(&bomb[..]).unwrap_err();
        assert!(e.contains("inflates to more than"), "{e}");
    }
}
