//! How names are searched and ordered: folded (lower case, accents dropped), split into words,
//! and each word indexed by its first characters.
//!
//! `q=rep 2026` finds `Q3 Report 2026.pdf` because every word of the query starts a word of the
//! folded name (`q3`, `report`, `2026`, `pdf`). Both stores index the same prefixes, so both
//! answer the same: [`prefixes`] of a name are what a record is found by, and [`SearchQuery`]
//! reads the prefix of its longest word and checks the rest on the record.

use std::collections::BTreeSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::FieldError;

/// The words of a name that search looks at: the first 16 distinct ones.
pub const MAX_NAME_WORDS: usize = 16;
/// The longest prefix indexed per word: a longer query word reads the index of its first
/// `MAX_PREFIX_CHARS` characters and is checked on each record.
pub const MAX_PREFIX_CHARS: usize = 6;
/// Most words one query may have.
pub const MAX_QUERY_WORDS: usize = 8;

/// `text` in lower case without accents (`Émile Zoë` → `emile zoe`): canonical decomposition,
/// combining marks dropped, then lower case.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The folded words of `text`, split at every character that is not a letter or digit,
/// de-duplicated in order, at most `max`.
fn split(text: &str, max: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in fold(text).split(|c: char| !c.is_alphanumeric()) {
        if !word.is_empty() && !words.iter().any(|w| w == word) {
            words.push(word.to_owned());
            if words.len() == max {
                break;
            }
        }
    }
    words
}

/// The words of a file name that search finds it by.
pub fn name_words(name: &str) -> Vec<String> {
    split(name, MAX_NAME_WORDS)
}

/// The first `MAX_PREFIX_CHARS` characters of a folded word: the index key a query word reads.
fn key(word: &str) -> String {
    word.chars().take(MAX_PREFIX_CHARS).collect()
}

/// Every index key of a name: each prefix, 1 to `MAX_PREFIX_CHARS` characters, of each of its
/// words. A record is written under each (a pointer item on DynamoDB, a row in SQLite).
pub fn prefixes(name: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for word in name_words(name) {
        let chars: Vec<char> = word.chars().take(MAX_PREFIX_CHARS).collect();
        for end in 1..=chars.len() {
            keys.insert(chars[..end].iter().collect());
        }
    }
    keys
}

/// The key a name is ordered by within a folder or collection: its folded form, so that
/// `alpha.txt` comes before `Q3 Report.pdf`.
pub fn order_key(name: &str) -> String {
    fold(name)
}

/// A validated `q`: its folded words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    /// Accepts 1 to 200 characters holding 1 to [`MAX_QUERY_WORDS`] words.
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        if text.chars().count() > 200 || text.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "must be at most 200 characters without control characters",
            ));
        }
        let words = split(text, MAX_QUERY_WORDS + 1);
        if words.is_empty() {
            return Err(FieldError::new(
                field,
                "must hold at least one word (letters or digits)",
            ));
        }
        if words.len() > MAX_QUERY_WORDS {
            return Err(FieldError::new(
                field,
                format!("must hold at most {MAX_QUERY_WORDS} words"),
            ));
        }
        Ok(SearchQuery { words })
    }

    /// The index key to read: the longest word's (the most selective).
    pub fn index_key(&self) -> String {
        let longest = self
            .words
            .iter()
            .max_by_key(|w| w.chars().count().min(MAX_PREFIX_CHARS))
            .map(String::as_str)
            .unwrap_or_default();
        key(longest)
    }

    /// True if every word of the query starts a word of `name`.
    pub fn matches(&self, name: &str) -> bool {
        let words = name_words(name);
        self.words
            .iter()
            .all(|q| words.iter().any(|w| w.starts_with(q.as_str())))
    }

    /// The folded words, as given.
    pub fn words(&self) -> &[String] {
        &self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_case_and_accents() {
        assert_eq!(fold("Émile ZOË Ångström"), "emile zoe angstrom");
        assert_eq!(fold("Straße"), "straße");
        assert!(order_key("alpha.txt") < order_key("Q3 Report.pdf"));
        assert!(order_key("Été.txt") < order_key("zèbre.txt"));
    }

    #[test]
    fn every_query_word_must_start_a_name_word() {
        let q = |text| SearchQuery::parse("q", text).unwrap();
        let name = "Q3 Report 2026.pdf";
        assert!(q("rep 2026").matches(name));
        assert!(q("REPORT").matches(name));
        assert!(q("q3 pdf").matches(name));
        assert!(!q("port").matches(name), "a word must start, not contain");
        assert!(!q("rep 2027").matches(name));
        assert!(q("resume").matches("Résumé final.docx"));
        assert!(q("résumé").matches("RESUME.docx"));
    }

    #[test]
    fn prefixes_cover_every_query_word_by_its_key() {
        let name = "Quarterly Report-2026_final.pdf";
        let keys = prefixes(name);
        for text in ["q", "quarterly", "rep", "2026", "fin", "pdf", "report 20"] {
            let query = SearchQuery::parse("q", text).unwrap();
            assert!(query.matches(name), "{text}");
            assert!(keys.contains(&query.index_key()), "{text}");
        }
        assert!(keys.iter().all(|k| k.chars().count() <= MAX_PREFIX_CHARS));
        // quarte(6) report(6) 2026(4) final(5) pdf(3): no first letters shared
        assert_eq!(keys.len(), 6 + 6 + 4 + 5 + 3);
    }

    #[test]
    fn only_the_first_words_of_a_long_name_are_searched() {
        let name: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
        let name = name.join(" ");
        assert!(SearchQuery::parse("q", "w15").unwrap().matches(&name));
        assert!(!SearchQuery::parse("q", "w16").unwrap().matches(&name));
    }

    #[test]
    fn bad_queries_are_refused() {
        for text in ["", "  ", "!!!", "-_-", "a\u{7}b", "1 2 3 4 5 6 7 8 9"] {
            assert!(SearchQuery::parse("q", text).is_err(), "{text:?}");
        }
        assert_eq!(
            SearchQuery::parse("q", "Rep, 2026!").unwrap().words(),
            ["rep", "2026"]
        );
    }
}
