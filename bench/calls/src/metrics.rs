//! Reading ViaWork's `/metrics` (Prometheus text format) and the server process's
//! `/proc/PID` counters.

/// One sample: name, labels, value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A scrape.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// Parses the text format; lines it does not understand are skipped.
    pub fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = match line.rsplit_once(' ') {
                Some(x) => x,
                None => continue,
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
                None => (series, Vec::new()),
            };
            samples.push(Sample {
                name: name.trim().to_owned(),
                labels,
                value,
            });
        }
        Scrape { samples }
    }

    /// The value of the series `name` having all of `labels` (first match).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|s| s.value)
    }

    /// Every series `name`, keyed by the value of label `key`.
    pub fn by_label(&self, name: &str, key: &str) -> Vec<(String, f64)> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| {
                s.labels
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| (v.clone(), s.value))
            })
            .collect()
    }
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some((k, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(match n {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((k.trim().trim_start_matches(',').trim().to_owned(), value));
        rest = &after[end.min(after.len())..];
    }
    out
}

/// A process's resident memory (KiB) and CPU time (clock ticks), from `/proc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    pub rss_kib: u64,
    pub cpu_ticks: u64,
}

/// Reads `/proc/PID/status` (VmRSS) and `/proc/PID/stat` (utime + stime, all threads).
pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(ProcSample {
        rss_kib,
        cpu_ticks: cpu_ticks(&format!("/proc/{pid}/stat"))?,
    })
}

/// utime + stime of a `/proc/.../stat` file.
pub fn cpu_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15 (1-based, man 5 proc).
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_summaries_and_counters() {
        let s = Scrape::parse(
            "# TYPE x summary\n\
             viawork_call_added_seconds{phase=\"api_to_callback_invite\",quantile=\"0.99\"} 0.0012\n\
             viawork_calls_ended_total{reason=\"completed\"} 42\n\
             viawork_calls_started_total 43\n",
        );
        assert_eq!(
            s.get(
                "viawork_call_added_seconds",
                &[("phase", "api_to_callback_invite"), ("quantile", "0.99")]
            ),
            Some(0.0012)
        );
        assert_eq!(s.get("viawork_calls_started_total", &[]), Some(43.0));
        assert_eq!(
            s.by_label("viawork_calls_ended_total", "reason"),
            vec![("completed".to_owned(), 42.0)]
        );
    }
}
