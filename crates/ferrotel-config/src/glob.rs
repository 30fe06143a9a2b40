//! The one wildcard match of ferrotel's settings: sampling rules' span names, views'
//! instrument names and the resource detectors' attribute filters.

/// Whether `text` matches `pattern`, where `*` matches any run of bytes, `?` exactly one, and
/// every other byte itself. Linear in practice, without recursion: on a mismatch only the
/// last `*` is retried.
///
/// ```
/// use ferrotel_config::glob::matches;
/// assert!(matches(b"raft.*", b"raft.heartbeat"));
/// assert!(matches(b"nfs.?EAD", b"nfs.READ"));
/// assert!(!matches(b"nfs.*.size", b"nfs.server.request.duration"));
/// ```
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&byte) = text.get(t) {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == byte => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_question_marks() {
        assert!(matches(b"*", b""));
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"a*b*c", b"aXbYbZc"));
        assert!(!matches(b"a?", b"a"));
        assert!(matches(b"rpc.*", b"rpc."));
        assert!(matches(b"", b""));
        assert!(!matches(b"", b"x"));
        assert!(matches(b"**a", b"bba"));
        assert!(!matches(b"abc", b"abd"));
    }
}
