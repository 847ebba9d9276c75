//! VCS attribution read from real `.git` layouts written by the test:
//! a branch, a detached HEAD, packed refs, a linked worktree, remotes with
//! credentials and in ssh form, and a directory outside any repository.

use std::fs;
use std::path::Path;

use agent_otel_core::VcsInfo;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const OTHER: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// Writes a minimal `.git` directory at `root` with HEAD `head` and
/// `config` text `config`.
fn repo(root: &Path, head: &str, config: &str) -> std::path::PathBuf {
    let git = root.join(".git");
    fs::create_dir_all(git.join("refs/heads")).expect("mkdir");
    fs::write(git.join("HEAD"), head).expect("HEAD");
    fs::write(git.join("config"), config).expect("config");
    git
}

const ORIGIN_WITH_TOKEN: &str = "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://x-access-token:ghp_SECRET@github.com/org/repo.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n";

#[test]
fn a_branch_with_a_loose_ref_and_a_token_in_the_remote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let git = repo(dir.path(), "ref: refs/heads/main\n", ORIGIN_WITH_TOKEN);
    fs::write(git.join("refs/heads/main"), format!("{COMMIT}\n")).expect("ref");
    let nested = dir.path().join("src/deep");
    fs::create_dir_all(&nested).expect("mkdir");
    let info = VcsInfo::detect(&nested).expect("inside a repository");
    assert_eq!(
        info,
        VcsInfo {
            repository_url: Some("https://github.com/org/repo.git".into()),
            ref_name: Some("main".into()),
            revision: Some(COMMIT.into()),
        }
    );
    assert!(!format!("{info:?}").contains("SECRET"));
}

#[test]
fn a_branch_found_only_in_packed_refs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let git = repo(
        dir.path(),
        "ref: refs/heads/feature/x\n",
        "[remote \"origin\"]\n\turl = git@github.com:org/repo.git\n",
    );
    fs::write(
        git.join("packed-refs"),
        format!(
            "# pack-refs with: peeled fully-peeled sorted\n{OTHER} refs/heads/main\n{COMMIT} refs/heads/feature/x\n^{OTHER}\n"
        ),
    )
    .expect("packed-refs");
    let info = VcsInfo::detect(dir.path()).expect("repository");
    assert_eq!(info.ref_name.as_deref(), Some("feature/x"));
    assert_eq!(info.revision.as_deref(), Some(COMMIT));
    assert_eq!(
        info.repository_url.as_deref(),
        Some("git@github.com:org/repo.git")
    );
}

#[test]
fn a_detached_head_has_a_revision_and_no_branch() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo(dir.path(), &format!("{COMMIT}\n"), "");
    let info = VcsInfo::detect(dir.path()).expect("repository");
    assert_eq!(info.ref_name, None);
    assert_eq!(info.revision.as_deref(), Some(COMMIT));
    assert_eq!(info.repository_url, None, "no origin remote");
}

#[test]
fn a_linked_worktree_reads_its_own_head_and_the_common_refs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("main");
    let git = repo(
        &main,
        "ref: refs/heads/main\n",
        "[remote \"origin\"]\n\turl = ssh://git@host:2222/org/repo\n",
    );
    fs::write(git.join("refs/heads/main"), format!("{OTHER}\n")).expect("ref");
    fs::write(git.join("refs/heads/topic"), format!("{COMMIT}\n")).expect("ref");
    let admin = git.join("worktrees/topic");
    fs::create_dir_all(&admin).expect("mkdir");
    fs::write(admin.join("HEAD"), "ref: refs/heads/topic\n").expect("HEAD");
    fs::write(admin.join("commondir"), "../..\n").expect("commondir");
    let tree = dir.path().join("topic-tree");
    fs::create_dir_all(&tree).expect("mkdir");
    fs::write(tree.join(".git"), format!("gitdir: {}\n", admin.display())).expect(".git file");
    let info = VcsInfo::detect(&tree).expect("worktree");
    assert_eq!(info.ref_name.as_deref(), Some("topic"));
    assert_eq!(info.revision.as_deref(), Some(COMMIT));
    assert_eq!(
        info.repository_url.as_deref(),
        Some("ssh://host:2222/org/repo")
    );
}

#[test]
fn a_ref_that_escapes_the_git_directory_is_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo(dir.path(), "ref: refs/heads/../../../../etc/passwd\n", "");
    let info = VcsInfo::detect(dir.path()).expect("repository");
    assert_eq!(info.revision, None);
}

#[test]
fn a_directory_outside_any_repository_has_no_attribution() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        VcsInfo::detect(dir.path()),
        None,
        "the temporary directory must not be inside a git working tree"
    );
}
