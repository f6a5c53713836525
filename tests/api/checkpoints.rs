//! SQLite's log is copied back by the server's checkpoint task, not by the writers.

use keyward::store::{self, checkpoints};

#[tokio::test]
async fn writers_leave_the_log_to_the_checkpoint_task_which_copies_it_back_and_restarts_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = store::open(&format!("sqlite://{}/keyward.db", dir.path().display()))
        .await
        .unwrap();
    sqlx::query("create table t (n integer)")
        .execute(&db)
        .await
        .unwrap();
    // 1,500 commits of one page each: past SQLite's default threshold (1,000 pages), at which a
    // writer would have checkpointed and restarted the log.
    for n in 0..1500_i64 {
        sqlx::query("insert into t (n) values ($1)")
            .bind(n)
            .execute(&db)
            .await
            .unwrap();
    }
    let (log, copied) = checkpoints::checkpoint(&db).await.unwrap();
    assert!(log >= 1500, "the writers checkpointed: {log} pages in the log");
    assert_eq!(
        copied, log,
        "a passive checkpoint on a quiet database copies everything"
    );

    // The next writer starts the log over, so it stays as small as what one interval writes.
    sqlx::query("insert into t (n) values (0)")
        .execute(&db)
        .await
        .unwrap();
    let (log, copied) = checkpoints::checkpoint(&db).await.unwrap();
    assert!(log < 10, "the log did not restart: {log} pages");
    assert_eq!(copied, log);
    let (rows,): (i64,) = sqlx::query_as("select count(*) from t")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(rows, 1501);
}
