//! Turning text into the terms the index stores and queries look up: UAX #29 word
//! boundaries (`unicode-segmentation`), lowercasing, then per field the stop words of its
//! language dropped (NLTK's lists) and the Snowball stemmer of its language applied. Queries
//! go through the same analyzer as the field they search.

use std::collections::HashSet;

use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Words longer than this many bytes (hashes, base64, glued-together noise) are not indexed.
pub const MAX_TERM_BYTES: usize = 64;

/// Languages with both a Snowball stemmer and an NLTK stop-word list: name, stemmer, the
/// stop-word list's ISO 639-1 code.
const LANGUAGES: [(&str, Algorithm, &str); 18] = [
    ("arabic", Algorithm::Arabic, "ar"),
    ("danish", Algorithm::Danish, "da"),
    ("dutch", Algorithm::Dutch, "nl"),
    ("english", Algorithm::English, "en"),
    ("finnish", Algorithm::Finnish, "fi"),
    ("french", Algorithm::French, "fr"),
    ("german", Algorithm::German, "de"),
    ("greek", Algorithm::Greek, "el"),
    ("hungarian", Algorithm::Hungarian, "hu"),
    ("italian", Algorithm::Italian, "it"),
    ("norwegian", Algorithm::Norwegian, "no"),
    ("portuguese", Algorithm::Portuguese, "pt"),
    ("romanian", Algorithm::Romanian, "ro"),
    ("russian", Algorithm::Russian, "ru"),
    ("spanish", Algorithm::Spanish, "es"),
    ("swedish", Algorithm::Swedish, "sv"),
    ("tamil", Algorithm::Tamil, "ta"),
    ("turkish", Algorithm::Turkish, "tr"),
];

/// The names `language` accepts.
pub fn languages() -> impl Iterator<Item = &'static str> {
    LANGUAGES.iter().map(|(name, ..)| *name)
}

/// How a `text` schema field is analysed and scored; stored in the collection's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TextOptions {
    /// The language of the stemmer and stop words (`english` unless stated).
    #[serde(default = "default_language")]
    pub language: String,
    /// Reduce words to their stem (`running` -> `run`). Off by default: exact terms (names,
    /// codes) stay as written.
    #[serde(default)]
    pub stemming: bool,
    /// Drop the language's stop words (`the`, `of`, ...). Off by default.
    #[serde(default)]
    pub stop_words: bool,
    /// BM25 term-frequency saturation (default 1.2).
    #[serde(default = "default_k1")]
    pub k1: f64,
    /// BM25 length normalisation, 0 (none) to 1 (full; default 0.75).
    #[serde(default = "default_b")]
    pub b: f64,
}

fn default_language() -> String {
    "english".into()
}
fn default_k1() -> f64 {
    1.2
}
fn default_b() -> f64 {
    0.75
}

impl Default for TextOptions {
    fn default() -> Self {
        Self { language: default_language(), stemming: false, stop_words: false, k1: default_k1(), b: default_b() }
    }
}

impl TextOptions {
    /// Checks the options; the error says which one is wrong and what it accepts.
    pub fn validate(&self) -> Result<(), String> {
        if !LANGUAGES.iter().any(|(name, ..)| *name == self.language) {
            let names: Vec<&str> = languages().collect();
            return Err(format!("language must be one of {}, got '{}'", names.join(", "), self.language));
        }
        if !(self.k1.is_finite() && (0.0..=100.0).contains(&self.k1)) {
            return Err(format!("k1 must be a number from 0 to 100, got {}", self.k1));
        }
        if !(self.b.is_finite() && (0.0..=1.0).contains(&self.b)) {
            return Err(format!("b must be a number from 0 to 1, got {}", self.b));
        }
        Ok(())
    }
}

/// The analysis chain of one field.
pub struct Analyzer {
    stemmer: Option<Stemmer>,
    stop_words: HashSet<&'static str>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("stemming", &self.stemmer.is_some())
            .field("stop_words", &self.stop_words.len())
            .finish()
    }
}

impl Analyzer {
    /// The analyzer `options` describe (validated: an unknown language analyses as English).
    pub fn new(options: &TextOptions) -> Self {
        let (_, algorithm, code) =
            LANGUAGES.iter().find(|(name, ..)| *name == options.language).copied().unwrap_or(LANGUAGES[3]);
        let stop_words = match options.stop_words {
            true => stop_words::lookup(code).unwrap_or_default().iter().copied().collect(),
            false => HashSet::new(),
        };
        Self { stemmer: options.stemming.then(|| Stemmer::create(algorithm)), stop_words }
    }

    /// The terms of `text`, in order (repeats kept: they are term frequencies).
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for word in text.unicode_words() {
            let lower = word.to_lowercase();
            if lower.len() > MAX_TERM_BYTES || self.stop_words.contains(lower.as_str()) {
                continue;
            }
            match &self.stemmer {
                Some(s) => out.push(s.stem(&lower).into_owned()),
                None => out.push(lower),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_on_unicode_boundaries_and_lowercased() {
        let a = Analyzer::new(&TextOptions::default());
        assert_eq!(
            a.terms("Hello, WORLD! libfoo-dev 3.14 naïve Straße"),
            ["hello", "world", "libfoo", "dev", "3.14", "naïve", "straße"]
        );
        assert_eq!(a.terms("  ...  "), Vec::<String>::new());
        let long = "x".repeat(MAX_TERM_BYTES + 1);
        assert_eq!(a.terms(&format!("a {long} b")), ["a", "b"]);
    }

    #[test]
    fn stemming_and_stop_words_follow_the_language() {
        let english = TextOptions { stemming: true, stop_words: true, ..TextOptions::default() };
        assert_eq!(Analyzer::new(&english).terms("The runners were running of the bulls"), ["runner", "run", "bull"]);
        let french = TextOptions { language: "french".into(), ..english };
        assert_eq!(Analyzer::new(&french).terms("les chevaux et le cheval"), ["cheval", "cheval"]);
    }

    #[test]
    fn every_language_has_a_stemmer_and_stop_words() {
        for (name, _, code) in LANGUAGES {
            assert!(stop_words::lookup(code).is_some_and(|w| !w.is_empty()), "no stop words for {name}");
            let o = TextOptions { language: name.into(), stop_words: true, stemming: true, ..TextOptions::default() };
            assert!(o.validate().is_ok());
        }
        let bad = TextOptions { language: "klingon".into(), ..TextOptions::default() };
        assert!(bad.validate().unwrap_err().contains("language must be one of"));
        assert!(TextOptions { b: 1.5, ..TextOptions::default() }.validate().is_err());
        assert!(TextOptions { k1: f64::NAN, ..TextOptions::default() }.validate().is_err());
    }
}
