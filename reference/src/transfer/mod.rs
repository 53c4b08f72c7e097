//! Copy and move (`/api/copy`, `/api/move`): where a subtree lands, what the caller must be allowed
//! at both ends (read and, for a move, delete at the source; deploy, and delete where a file is
//! replaced, at every landing), and the one `Transfer` mutation, all checked in the transaction
//! that writes it.

use crate::app::App;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::tree::is_under;
use crate::store::{Mutation, State, TreeError};

/// A copy or move as the client asked for it.
#[derive(Debug)]
pub(crate) struct Transfer {
    pub src_repo: String,
    pub src_path: String,
    pub dst_repo: String,
    pub dst_path: String,
    /// The target ended in `/`: the source goes into it, under its own name.
    pub into: bool,
    /// Move (the source goes) rather than copy.
    pub mv: bool,
    /// Only say what would happen.
    pub dry: bool,
}

impl Transfer {
    /// (progressive, infinitive, past participle) as the messages use them.
    fn verbs(&self) -> (&'static str, &'static str, &'static str) {
        if self.mv {
            ("moving", "move", "moved")
        } else {
            ("copying", "copy", "copied")
        }
    }

    fn src_name(&self) -> &str {
        self.src_path.rsplit('/').next().unwrap_or(&self.src_path)
    }
}

/// What a transfer will do: the path it lands at and what it counts.
struct Plan {
    dst_path: String,
    files: u64,
    folders: u64,
}

/// Copies or moves; returns the message Artifactory answers with (`Dry run for ...` when dry).
pub(crate) async fn run(app: &App, caller: &Caller, t: &Transfer) -> Result<String, ApiError> {
    if t.dry {
        let state = app.store.read();
        let p = plan(app, &state, caller, t)?;
        return Ok(format!("Dry run for {}", done_text(t, &p)));
    }
    let mut text = String::new();
    let check = |state: &State| {
        let p = plan(app, state, caller, t)?;
        text = done_text(t, &p);
        Ok(Mutation::Transfer {
            src_repo: t.src_repo.clone(),
            src_path: t.src_path.clone(),
            dst_repo: t.dst_repo.clone(),
            dst_path: p.dst_path,
            mv: t.mv,
            now: app.config.clock.now_ms(),
            user: caller.name.clone(),
        })
    };
    app.store.transact(check, |_| ()).await.map_err(|r| {
        ApiError::refused(r, |e| match e {
            TreeError::Conflict(p) => msg::cannot_override_path(&t.dst_repo, &p),
            TreeError::NoRepo(_) | TreeError::NoItem => msg::unable_to_find_item(),
            TreeError::RepoExists => ApiError::internal("a transfer created a repository"),
        })
    })?;
    Ok(text)
}

fn done_text(t: &Transfer, p: &Plan) -> String {
    let (verb, _, done) = t.verbs();
    format!(
        "{verb} {}:{} to {}:{} completed successfully, {} artifacts and {} folders were {done}",
        t.src_repo, t.src_path, t.dst_repo, p.dst_path, p.files, p.folders
    )
}

/// Checks the transfer against `state` and works out where it lands.
fn plan(app: &App, state: &State, caller: &Caller, t: &Transfer) -> Result<Plan, ApiError> {
    let src_id = msg::repo_path(&t.src_repo, &t.src_path);
    app.auth.require_tree(
        state,
        caller,
        Action::Read,
        &t.src_repo,
        &t.src_path,
        || msg::request_forbidden(&src_id, &caller.name),
    )?;
    if t.mv {
        app.auth.require_tree(
            state,
            caller,
            Action::Delete,
            &t.src_repo,
            &t.src_path,
            || msg::move_needs_delete(&src_id),
        )?;
    }
    let deploy_forbidden =
        |path: &str| msg::deploy_into_forbidden(&caller.name, &msg::repo_path(&t.dst_repo, path));
    app.auth.require(
        state,
        caller,
        Action::Deploy,
        &t.dst_repo,
        &t.dst_path,
        || deploy_forbidden(&t.dst_path),
    )?;
    let src = state
        .repo(&t.src_repo)
        .filter(|x| x.is_local() && x.items.contains_key(t.src_path.as_str()))
        .ok_or_else(msg::unable_to_find_item)?;
    let (_, action, _) = t.verbs();
    let fail = |why: String| {
        let (src, dst) = ((&*t.src_repo, &*t.src_path), (&*t.dst_repo, &*t.dst_path));
        msg::transfer_failed(action, src, dst, &why)
    };
    let Some(dst) = state.repo(&t.dst_repo) else {
        return Err(fail(format!(
            "Target repository {} does not exist",
            t.dst_repo
        )));
    };
    if !dst.is_local() {
        return Err(fail(format!(
            "Target repository {} is not a local repository",
            t.dst_repo
        )));
    }
    // Into an existing folder (or a path ending in '/'): keep the source's name.
    let into = t.into
        || dst
            .items
            .get(t.dst_path.as_str())
            .is_some_and(|i| i.is_folder() && !t.src_path.is_empty());
    let dst_path = if into && !t.src_path.is_empty() {
        if t.dst_path.is_empty() {
            t.src_name().to_string()
        } else {
            format!("{}/{}", t.dst_path, t.src_name())
        }
    } else {
        t.dst_path.clone()
    };
    if t.src_repo == t.dst_repo
        && (dst_path == t.src_path || (t.mv && is_under(&dst_path, &t.src_path)))
    {
        return Err(fail(
            "Cannot copy or move an item onto itself or under itself".into(),
        ));
    }
    let (mut files, mut folders) = (0u64, 0u64);
    for (k, i) in src.subtree(&t.src_path) {
        if i.is_folder() {
            if !k.is_empty() {
                folders += 1;
            }
            continue;
        }
        files += 1;
        // Every file lands somewhere the caller may deploy to, and replacing one needs delete there.
        let landing = format!("{dst_path}{}", &k[t.src_path.len()..])
            .trim_start_matches('/')
            .to_string();
        app.auth
            .require(state, caller, Action::Deploy, &t.dst_repo, &landing, || {
                deploy_forbidden(&landing)
            })?;
        if dst
            .items
            .get(landing.as_str())
            .is_some_and(|i| !i.is_folder())
        {
            app.auth
                .require(state, caller, Action::Delete, &t.dst_repo, &landing, || {
                    msg::override_needs_delete(&msg::repo_path(&t.dst_repo, &landing))
                })?;
        }
    }
    Ok(Plan {
        dst_path,
        files,
        folders,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::{deploy, Deploy, SentChecksums};
    use crate::store::Stamp;
    use crate::testing::{admin, app, app_with, body, caller, with_user};

    async fn put(app: &App, who: &Caller, path: &str) {
        let d = Deploy {
            repo: "generic-local".into(),
            path: path.into(),
            folder: false,
            matrix: vec![],
            sent: SentChecksums::default(),
            by_checksum: false,
            stamp: Stamp::default(),
        };
        deploy(app, who, d, body(b"x")).await.unwrap();
    }

    fn transfer(src: &str, dst: &str, into: bool, mv: bool) -> Transfer {
        Transfer {
            src_repo: "generic-local".into(),
            src_path: src.into(),
            dst_repo: "generic-local".into(),
            dst_path: dst.into(),
            into,
            mv,
            dry: false,
        }
    }

    #[tokio::test]
    async fn copies_land_into_folders_and_moves_take_the_source() {
        let app = app();
        let a = admin(&app).await;
        put(&app, &a, "src/a.txt").await;
        put(&app, &a, "dst/keep.txt").await;
        let text = run(&app, &a, &transfer("src", "dst", false, false))
            .await
            .unwrap();
        assert_eq!(text, "copying generic-local:src to generic-local:dst/src completed successfully, 1 artifacts and 1 folders were copied");
        let dry = Transfer {
            dry: true,
            ..transfer("src", "moved", true, true)
        };
        assert!(run(&app, &a, &dry)
            .await
            .unwrap()
            .starts_with("Dry run for moving"));
        assert!(app
            .store
            .read()
            .item("generic-local", "src/a.txt")
            .is_some());
        run(&app, &a, &transfer("src", "moved", false, true))
            .await
            .unwrap();
        let state = app.store.read();
        assert!(state.item("generic-local", "dst/src/a.txt").is_some());
        assert!(state.item("generic-local", "moved/a.txt").is_some());
        assert!(state.item("generic-local", "src").is_none());
    }

    #[tokio::test]
    async fn onto_itself_unknown_targets_and_missing_rights_are_refused() {
        let app = app_with(|c| with_user(c, "reader", "generic-local", "rw"));
        let a = admin(&app).await;
        put(&app, &a, "s/a.txt").await;
        let e = run(&app, &a, &transfer("s", "s/inner", false, true))
            .await
            .unwrap_err();
        assert_eq!(e.status, 409);
        let mut t = transfer("s", "x", false, false);
        t.dst_repo = "nope".into();
        let e = run(&app, &a, &t).await.unwrap_err();
        assert_eq!(e.message(), "Failed to copy from src=generic-local/s to target=nope/x: Target repository nope does not exist");
        let r = caller(&app, "reader", "reader-pw").await;
        let e = run(&app, &r, &transfer("s", "m", false, true))
            .await
            .unwrap_err();
        assert_eq!((e.status, e.message()), (403, "User doesn't have permissions to move 'generic-local:s'. Needs delete permissions."));
        assert!(app.store.read().item("generic-local", "s/a.txt").is_some());
    }
}
