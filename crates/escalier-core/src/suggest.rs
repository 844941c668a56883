//! "Did you mean" for names a person typed: event types, action names,
//! config keys.

/// The candidate closest to `typed`, if it is close enough to be a typo.
pub fn nearest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(typed, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn suggests_close_names_only() {
        let types = ["ticket.created", "ticket.updated", "comment.added"];
        assert_eq!(nearest("ticket.create", types), Some("ticket.created"));
        assert_eq!(nearest("coment.added", types), Some("comment.added"));
        assert_eq!(nearest("zzz", types), None);
    }
}
