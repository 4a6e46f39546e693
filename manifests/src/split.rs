//! LRS2 split lists (SPEC §1.5): one `<programme_id>/<utt_id>` per line, optional second token.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A validated `<programme_id>/<utt_id>`: two plain path components, never escaping the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UttId(String);

impl UttId {
    /// Validates an id.
    pub fn parse(id: &str) -> std::result::Result<Self, &'static str> {
        if id.is_empty() {
            return Err("empty id");
        }
        if id.starts_with('/') || id.starts_with('\\') {
            return Err("absolute paths are not allowed");
        }
        if id.contains('\\') || id.contains('\0') {
            return Err("backslashes and NUL bytes are not allowed");
        }
        let parts: Vec<&str> = id.split('/').collect();
        if parts.iter().any(|p| *p == ".." || *p == ".") {
            return Err("'.' and '..' components could escape the dataset root");
        }
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err("expected exactly <programme_id>/<utt_id>");
        }
        if parts.iter().any(|p| p.starts_with('.') || p.chars().any(char::is_control)) {
            return Err("components may not start with '.' or hold control characters");
        }
        Ok(Self(id.to_string()))
    }

    /// The id as written in the list.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The programme id (first component).
    pub fn programme(&self) -> &str {
        self.0.split_once('/').map_or("", |(p, _)| p)
    }
}

impl std::fmt::Display for UttId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UttId {
    type Error = &'static str;
    fn try_from(s: String) -> std::result::Result<Self, Self::Error> {
        UttId::parse(&s)
    }
}

impl From<UttId> for String {
    fn from(id: UttId) -> String {
        id.0
    }
}

/// One line of a split list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitEntry {
    /// The utterance.
    pub id: UttId,
    /// The optional second token (`NF` / `MV` in LRS2's `test.txt`), which the reference strips.
    pub tag: Option<String>,
}

/// Parses a split list. Blank lines are ignored; `origin` names the file in errors.
pub fn parse_split_list(text: &str, origin: &str) -> Result<Vec<SplitEntry>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut tokens = line.split_whitespace();
        let Some(first) = tokens.next() else { continue };
        let tag = tokens.next().map(str::to_string);
        if tokens.next().is_some() {
            return Err(Error::BadId {
                origin: origin.to_string(),
                line: i + 1,
                id: line.to_string(),
                why: "more than two tokens on the line",
            });
        }
        let id = UttId::parse(first).map_err(|why| Error::BadId {
            origin: origin.to_string(),
            line: i + 1,
            id: first.to_string(),
            why,
        })?;
        out.push(SplitEntry { id, tag });
    }
    Ok(out)
}

/// A split list as distributed with VocaLiST and MTDVocaLiST ("LRS2 v1", SPEC §1.5).
#[derive(Debug, Clone, Copy)]
pub struct KnownSplit {
    /// Split name.
    pub name: &'static str,
    /// Line count.
    pub lines: usize,
    /// sha256 of the file.
    pub sha256: &'static str,
}

/// The pinned LRS2 v1 split definition: leaderboard numbers are comparable only on these lists.
pub const LRS2_V1_SPLITS: [KnownSplit; 4] = [
    KnownSplit {
        name: "pretrain",
        lines: 96_318,
        sha256: "d6cd613f97fac7e1f6aa3311152d6d14219d53f83d358fd766178cdec12eee2f",
    },
    KnownSplit {
        name: "train",
        lines: 45_839,
        sha256: "87b7bf272db9522d064a542582c4685da89231d5fab3d6e554e78179790cf277",
    },
    KnownSplit {
        name: "val",
        lines: 1_082,
        sha256: "bb0a9117142317eff7f351811c5a90a00dafa39f08699ec6360f131346a16218",
    },
    KnownSplit {
        name: "test",
        lines: 1_243,
        sha256: "234db513acf63950e47fcdf8a06539418379e640804e807c39f6bf6af0096d16",
    },
];

/// The pinned LRS2 v1 definition of `split`, if the name is one of LRS2's.
pub fn known_lrs2_split(split: &str) -> Option<&'static KnownSplit> {
    LRS2_V1_SPLITS.iter().find(|k| k.name == split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_and_tags() {
        let list = "5535415699068794046/00001\n\n6330311066473698535/00011 NF\n";
        let e = parse_split_list(list, "test.txt").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].id.as_str(), "5535415699068794046/00001");
        assert_eq!(e[0].tag, None);
        assert_eq!(e[1].tag.as_deref(), Some("NF"));
        assert_eq!(e[1].id.programme(), "6330311066473698535");
    }

    #[test]
    fn rejects_ids_escaping_the_root() {
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "a/../../b",
            "prog/..",
            "./x",
            "a\\b/c",
            "a/b/c",
            "justone",
            "prog/",
            "prog/.hidden",
        ] {
            let err = parse_split_list(&format!("ok/00001\n{bad}\n"), "pretrain.txt").unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("pretrain.txt:2: bad utterance id"), "{bad}: {msg}");
        }
    }

    #[test]
    fn known_splits_are_pinned() {
        assert_eq!(known_lrs2_split("test").unwrap().lines, 1243);
        assert!(known_lrs2_split("other").is_none());
    }
}
