//! Turning the paths on the command line into a sorted list of inputs.

use std::path::{Path, PathBuf};

/// One input, or the reason a path could not be one; kept in walk order so problems are
/// reported where they were met.
#[derive(Debug, Clone)]
pub enum Source {
    Stdin,
    File {
        path: PathBuf,
        /// Path below the root it was found under (its file name when named directly), for
        /// mirroring into `--output`.
        rel: PathBuf,
        /// Named on the command line rather than found in a directory.
        explicit: bool,
        size: Option<u64>,
    },
    Error {
        path: String,
        message: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    pub hidden: bool,
    pub no_ignore: bool,
    /// A directory never to descend into (the redaction output, when it lies inside an input).
    pub skip_dir: Option<PathBuf>,
}

/// Every input in a stable order: the paths in the order given, each directory's files sorted
/// by path. `.gitignore`, `.ignore` and `.git/info/exclude` are honoured (also outside a git
/// repository) unless `no_ignore`; hidden files are skipped unless `hidden`; `.git` is always
/// skipped. A file named on the command line is scanned even if an ignore file lists it.
pub fn collect(paths: &[PathBuf], opts: &WalkOptions) -> Vec<Source> {
    let mut out = Vec::new();
    if paths.is_empty() {
        out.push(Source::Stdin);
    }
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Source::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => out.push(Source::Error {
                path: p.display().to_string(),
                message: io_message(&e),
            }),
            Ok(m) if m.is_dir() => walk_dir(p, opts, &mut out),
            Ok(m) => out.push(Source::File {
                path: p.clone(),
                rel: p.file_name().map_or_else(|| p.clone(), PathBuf::from),
                explicit: true,
                size: m.is_file().then_some(m.len()),
            }),
        }
    }
    out
}

fn walk_dir(root: &Path, opts: &WalkOptions, out: &mut Vec<Source>) {
    let on = !opts.no_ignore;
    let skip = opts.skip_dir.clone();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(!opts.hidden)
        .ignore(on)
        .git_ignore(on)
        .git_exclude(on)
        .git_global(on)
        .parents(on)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_path(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            if e.file_name() == ".git" {
                return false;
            }
            match (&skip, e.file_type()) {
                (Some(skip), Some(t)) if t.is_dir() => {
                    e.path().canonicalize().map_or(true, |c| &c != skip)
                }
                _ => true,
            }
        })
        .build();
    for entry in walker {
        match entry {
            Ok(e) => {
                if !e.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                let path = e.path().to_path_buf();
                let rel = path
                    .strip_prefix(root)
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|_| path.clone());
                let size = e.metadata().ok().map(|m| m.len());
                out.push(Source::File {
                    path,
                    rel,
                    explicit: false,
                    size,
                });
            }
            Err(e) => out.push(Source::Error {
                path: walk_error_path(&e).unwrap_or_else(|| root.display().to_string()),
                message: walk_error_message(&e),
            }),
        }
    }
}

fn walk_error_path(e: &ignore::Error) -> Option<String> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path.display().to_string()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error_path(err)
        }
        _ => None,
    }
}

fn walk_error_message(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => walk_error_message(err),
        ignore::Error::Io(io) => io_message(io),
        other => other.to_string(),
    }
}

/// `No such file or directory` without the ` (os error 2)` tail.
pub fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Sniffing for binary: a NUL byte in the first 8 KiB, as git and ripgrep do.
pub const SNIFF_LEN: usize = 8 * 1024;

pub fn looks_binary(prefix: &[u8]) -> bool {
    memchr::memchr(0, prefix).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn files(sources: &[Source]) -> Vec<String> {
        sources
            .iter()
            .map(|s| match s {
                Source::Stdin => "-".into(),
                Source::File { rel, .. } => rel.display().to_string(),
                Source::Error { path, .. } => format!("error:{path}"),
            })
            .collect()
    }

    #[test]
    fn sorted_walk_honours_ignore_files_and_hidden() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("b/sub")).unwrap();
        fs::create_dir_all(r.join("a")).unwrap();
        fs::create_dir_all(r.join(".git")).unwrap();
        for f in [
            "z.txt",
            "a/2.txt",
            "a/1.txt",
            "b/sub/x.txt",
            "b/skip.log",
            ".hidden",
            ".git/config",
            "target.txt",
        ] {
            fs::write(r.join(f), "x").unwrap();
        }
        fs::write(r.join(".gitignore"), "*.log\n").unwrap();
        fs::write(r.join(".ignore"), "target.txt\n").unwrap();
        let got = files(&collect(&[r.to_path_buf()], &WalkOptions::default()));
        assert_eq!(got, ["a/1.txt", "a/2.txt", "b/sub/x.txt", "z.txt"]);
        let all = files(&collect(
            &[r.to_path_buf()],
            &WalkOptions {
                hidden: true,
                no_ignore: true,
                skip_dir: None,
            },
        ));
        assert_eq!(
            all,
            [
                ".gitignore",
                ".hidden",
                ".ignore",
                "a/1.txt",
                "a/2.txt",
                "b/skip.log",
                "b/sub/x.txt",
                "target.txt",
                "z.txt"
            ]
        );
    }

    #[test]
    fn explicit_files_missing_paths_and_stdin_keep_their_order() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("ignored.log");
        fs::write(&f, "x").unwrap();
        fs::write(d.path().join(".gitignore"), "*.log\n").unwrap();
        let got = collect(
            &[d.path().join("nope"), "-".into(), f.clone()],
            &WalkOptions::default(),
        );
        assert!(
            matches!(&got[0], Source::Error { message, .. } if message == "No such file or directory")
        );
        assert!(matches!(got[1], Source::Stdin));
        assert!(matches!(&got[2], Source::File { explicit: true, path, .. } if path == &f));
        assert!(matches!(
            collect(&[], &WalkOptions::default())[..],
            [Source::Stdin]
        ));
    }

    #[test]
    fn output_directory_is_skipped() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("out")).unwrap();
        fs::write(d.path().join("out/old.txt"), "x").unwrap();
        fs::write(d.path().join("in.txt"), "x").unwrap();
        let got = files(&collect(
            &[d.path().to_path_buf()],
            &WalkOptions {
                skip_dir: Some(d.path().join("out").canonicalize().unwrap()),
                ..WalkOptions::default()
            },
        ));
        assert_eq!(got, ["in.txt"]);
    }
}
