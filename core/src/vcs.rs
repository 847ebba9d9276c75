//! Version-control attribution of a session: the repository URL, branch
//! and commit of a working directory, read from its `.git` (no `git`
//! process): `HEAD`, loose refs, `packed-refs` and `config`'s
//! `remote "origin"`; linked worktrees and detached HEADs handled.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Where a session's code comes from (`vcs.*` attributes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VcsInfo {
    /// `vcs.repository.url.full`: `origin`'s URL, credentials stripped.
    pub repository_url: Option<String>,
    /// `vcs.ref.head.name`: the branch checked out (none when detached).
    pub ref_name: Option<String>,
    /// `vcs.ref.head.revision`: the commit checked out.
    pub revision: Option<String>,
}

/// Directories walked up from the start looking for `.git`.
const MAX_PARENT_DEPTH: usize = 64;
/// Largest `HEAD`, ref, `gitdir` or `config` file read.
const MAX_SMALL_FILE_BYTES: u64 = 1 << 20;
/// Largest `packed-refs` read.
const MAX_PACKED_REFS_BYTES: u64 = 64 << 20;

impl VcsInfo {
    /// Detects the repository containing `dir`: `None` when `dir` is not in
    /// a git working tree (or its `.git` cannot be read).
    pub fn detect(dir: &Path) -> Option<Self> {
        let git_dir = find_git_dir(dir)?;
        let common_dir = read_small(&git_dir.join("commondir"))
            .map(|text| git_dir.join(text.trim()))
            .unwrap_or_else(|| git_dir.clone());
        let head = read_small(&git_dir.join("HEAD"))?;
        let head = head.trim();
        let (ref_name, revision) = match head.strip_prefix("ref:") {
            Some(reference) => {
                let reference = reference.trim();
                let branch = reference
                    .strip_prefix("refs/heads/")
                    .unwrap_or(reference)
                    .to_owned();
                let revision = resolve_ref(&git_dir, &common_dir, reference);
                (Some(branch), revision)
            }
            None if is_object_id(head) => (None, Some(head.to_owned())),
            None => (None, None),
        };
        let repository_url = read_small(&common_dir.join("config"))
            .and_then(|config| origin_url(&config))
            .map(|url| strip_credentials(&url));
        Some(Self {
            repository_url,
            ref_name,
            revision,
        })
    }
}

/// The git directory of the working tree containing `dir`: `.git` itself,
/// or the directory a `.git` file (linked worktree, submodule) points to.
fn find_git_dir(dir: &Path) -> Option<PathBuf> {
    let mut current = Some(dir);
    for _ in 0..MAX_PARENT_DEPTH {
        let here = current?;
        let dot_git = here.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if dot_git.is_file() {
            let text = read_small(&dot_git)?;
            let target = text.trim().strip_prefix("gitdir:")?.trim();
            return Some(here.join(target));
        }
        current = here.parent();
    }
    None
}

/// The commit `reference` points to: a loose ref (per-worktree first), then
/// `packed-refs`.
fn resolve_ref(git_dir: &Path, common_dir: &Path, reference: &str) -> Option<String> {
    if reference
        .split('/')
        .any(|part| part == ".." || part.is_empty())
    {
        return None;
    }
    for dir in [git_dir, common_dir] {
        if let Some(text) = read_small(&dir.join(reference)) {
            let id = text.trim();
            if is_object_id(id) {
                return Some(id.to_owned());
            }
        }
    }
    let file = fs::File::open(common_dir.join("packed-refs")).ok()?;
    BufReader::new(file.take(MAX_PACKED_REFS_BYTES))
        .lines()
        .map_while(Result::ok)
        .filter(|line| !line.starts_with('#') && !line.starts_with('^'))
        .find_map(|line| {
            let (id, name) = line.split_once(' ')?;
            (name.trim() == reference && is_object_id(id)).then(|| id.to_owned())
        })
}

/// `url` of the `[remote "origin"]` section of a git config.
fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            let section: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            in_origin = section == "[remote\"origin\"]";
        } else if in_origin
            && let Some((key, value)) = line.split_once('=')
            && key.trim().eq_ignore_ascii_case("url")
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// A remote URL safe to export: for URLs with a scheme, the user-info
/// (user names are often tokens: `https://TOKEN@host/...`), the query and
/// the fragment are removed; an ssh user name in scp-like form
/// (`git@host:org/repo`) stays, it carries no secret.
pub fn strip_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let path = &rest[authority_end..];
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    format!("{}://{host}{path}", &url[..scheme_end])
}

fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn read_small(path: &Path) -> Option<String> {
    let mut text = String::new();
    fs::File::open(path)
        .ok()?
        .take(MAX_SMALL_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_query_and_fragment_are_stripped() {
        assert_eq!(
            strip_credentials("https://x-access-token:ghp_secret@github.com/org/repo.git?t=1#f"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            strip_credentials("https://ghp_token@github.com/org/repo"),
            "https://github.com/org/repo"
        );
        assert_eq!(
            strip_credentials("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
        assert_eq!(
            strip_credentials("ssh://git@host:2222/org/repo"),
            "ssh://host:2222/org/repo"
        );
    }

    #[test]
    fn origin_is_found_among_other_sections() {
        let config = "[core]\n\turl = nope\n[remote \"upstream\"]\n\turl = https://a/b\n[remote \"origin\"]\n\tfetch = +refs/heads/*\n\turl = https://c/d\n";
        assert_eq!(origin_url(config).as_deref(), Some("https://c/d"));
    }
}
