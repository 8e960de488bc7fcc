//! Markdown tables of [`Row`]s, as the `compare` binary prints them.

use std::fmt::Write as _;

use crate::{Case, Row, Side};

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in B, KiB or MiB with one decimal.
pub fn human_bytes(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    } else if bytes >= 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{bytes:.0} B")
    }
}

fn ms(row: &Row) -> String {
    match row.cpu_ms {
        Some(cpu) => format!("{cpu:.0} / {:.0}", row.wall_ms),
        None => format!("– / {:.0}", row.wall_ms),
    }
}

fn rounds(row: &Row) -> String {
    if row.converged {
        row.rounds.to_string()
    } else {
        format!("> {} (not converged)", row.rounds)
    }
}

/// The side-by-side convergence table: one line per case, with its scuttle and chitchat
/// rows (`None`: that side was not run or failed).
pub fn convergence(lines: &[(Case, Option<Row>, Option<Row>)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| N | K | lower bound | scuttle rounds | scuttle msgs | scuttle bytes | scuttle ratio \
         | scuttle ms cpu / wall | chitchat rounds | chitchat msgs | chitchat bytes \
         | chitchat ratio | chitchat ms cpu / wall | bytes chitchat / scuttle |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (case, s, c) in lines {
        let _ = write!(
            out,
            "| {} | {} | {} |",
            case.nodes,
            thousands(case.keys as u64),
            human_bytes(case.payload_lower_bound() as f64),
        );
        for row in [s, c] {
            match row {
                Some(r) => {
                    let _ = write!(
                        out,
                        " {} | {} | {} | {:.2} | {} |",
                        rounds(r),
                        thousands(r.messages),
                        human_bytes(r.bytes as f64),
                        r.ratio(),
                        ms(r)
                    );
                }
                None => {
                    let _ = write!(out, " – | – | – | – | – |");
                }
            }
        }
        match (s, c) {
            (Some(s), Some(c)) if s.bytes > 0 => {
                let _ = writeln!(out, " {:.2} |", c.bytes as f64 / s.bytes as f64);
            }
            _ => {
                let _ = writeln!(out, " – |");
            }
        }
    }
    out
}

/// The idle-cost table: bytes per node per round on the converged cluster, one line per
/// `(N, K, rows)` (a row per side in `sides` order; `None`: not run).
pub fn idle(sides: &[Side], lines: &[(usize, usize, Vec<Option<Row>>)]) -> String {
    let mut out = String::new();
    let _ = write!(out, "| N | K |");
    for side in sides {
        let _ = write!(out, " {side} B / node / round |");
    }
    let _ = writeln!(out);
    let _ = write!(out, "|---:|---:|");
    for _ in sides {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
    for (n, k, rows) in lines {
        let _ = write!(out, "| {n} | {} |", thousands(*k as u64));
        for row in rows {
            match row.as_ref().and_then(|r| r.idle_bytes_per_node_round) {
                Some(b) => {
                    let _ = write!(out, " {b:.0} |");
                }
                None => {
                    let _ = write!(out, " – |");
                }
            }
        }
        let _ = writeln!(out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn human_bytes_picks_a_unit() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(2048.0), "2.0 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
    }
}
