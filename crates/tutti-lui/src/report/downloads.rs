//! Report downloads, streamed page by page: each recipient's fate and reactions, the
//! openers, clickers and non-openers, the bounced addresses with the servers' replies,
//! and the tracking events.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sqlx::Row;
use tutti_core::api::TrackingType;
use tutti_core::http_error::ApiError;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::LuiState;
use crate::database::Database;
use crate::recipients::api::{csv_header, csv_line, csv_response, paged_csv};
use crate::session_api::LuiSession;

/// Rows per page of a download.
const PAGE: i64 = 5000;

pub fn router() -> OpenApiRouter<Arc<LuiState>> {
    OpenApiRouter::new()
        .routes(routes!(recipients_csv))
        .routes(routes!(events_csv))
        .routes(routes!(all_zip))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DownloadQuery {
    /// Count only people's opens and clicks (default true).
    pub people_only: Option<bool>,
}

/// Which recipients a download lists.
#[derive(Clone, Copy)]
enum Who {
    All,
    Openers,
    Clickers,
    NonOpeners,
    Bounced,
}

impl Who {
    fn of(name: &str) -> Option<Who> {
        Some(match name {
            "recipients" => Who::All,
            "openers" => Who::Openers,
            "clickers" => Who::Clickers,
            "non_openers" => Who::NonOpeners,
            "bounced" => Who::Bounced,
            _ => return None,
        })
    }

    fn needs_recipients(self) -> bool {
        !matches!(self, Who::All | Who::Bounced)
    }
}

fn flag(r: &sqlx::any::AnyRow, i: usize) -> sqlx::Result<bool> {
    r.try_get::<i64, _>(i)
        .map(|v| v != 0)
        .or_else(|_| r.try_get(i))
}

/// One page of recipients after `after` (a recipient number).
async fn page(
    db: &Database,
    job: &str,
    who: Who,
    people: &'static str,
    after: i64,
) -> sqlx::Result<(String, Option<i64>)> {
    let opened = format!(
        "EXISTS (SELECT 1 FROM tracking_events e WHERE e.job_id = s.job_id AND e.recipient = s.number AND e.kind IN ('open', 'click'){people})"
    );
    let clicked = format!(
        "EXISTS (SELECT 1 FROM tracking_events e WHERE e.job_id = s.job_id AND e.recipient = s.number AND e.kind = 'click'{people})"
    );
    let filter = match who {
        Who::All => String::new(),
        Who::Openers => format!(" AND {opened}"),
        Who::Clickers => format!(" AND {clicked}"),
        Who::NonOpeners => format!(" AND NOT {opened}"),
        Who::Bounced => " AND EXISTS (SELECT 1 FROM delivery_events d WHERE d.job_id = s.job_id AND d.recipient = s.number AND d.kind IN ('hard_bounce', 'soft_bounce', 'failed'))".into(),
    };
    let sql = format!(
        "SELECT s.number, r.fields, \
         (SELECT d.kind FROM delivery_events d WHERE d.job_id = s.job_id AND d.recipient = s.number ORDER BY d.at_ms DESC, d.seq DESC LIMIT 1), \
         (SELECT d.reply FROM delivery_events d WHERE d.job_id = s.job_id AND d.recipient = s.number ORDER BY d.at_ms DESC, d.seq DESC LIMIT 1), \
         {opened}, {clicked}, \
         EXISTS (SELECT 1 FROM tracking_events e WHERE e.job_id = s.job_id AND e.recipient = s.number AND e.kind = 'unsubscribe') \
         FROM sent_recipients s JOIN recipients r ON r.list_id = s.list_id AND r.seq = s.seq \
         WHERE s.job_id = $1 AND s.number > $2{filter} ORDER BY s.number LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(job)
        .bind(after)
        .bind(PAGE)
        .fetch_all(&db.pool)
        .await?;
    let mut text = String::new();
    let mut last = None;
    for r in &rows {
        let number: i64 = r.try_get(0)?;
        let fields: String = r.try_get(1)?;
        let fields: Vec<String> = serde_json::from_str(&fields).unwrap_or_default();
        let delivery: Option<String> = r.try_get(2)?;
        let reply: Option<String> = r.try_get(3)?;
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        let mut line = vec![number.to_string()];
        line.extend(fields);
        line.extend([
            delivery.unwrap_or_default(),
            reply.unwrap_or_default(),
            yes(flag(r, 4)?),
            yes(flag(r, 5)?),
            yes(flag(r, 6)?),
        ]);
        text.push_str(&csv_line(line));
        last = Some(number);
    }
    Ok((text, last))
}

/// Recipients of a sent job as CSV: `recipients` (everyone), `openers`, `clickers`,
/// `non_openers` or `bounced`; each row with the list's columns, the last delivery result
/// and reply, and whether they opened, clicked, unsubscribed.
#[utoipa::path(get, path = "/jobs/{id}/report/{which}", tag = "reports", params(DownloadQuery,
    ("which" = String, Path, description = "recipients.csv, openers.csv, clickers.csv, non_openers.csv or bounced.csv")),
    responses((status = 200, content_type = "text/csv"), (status = 403), (status = 404),
        (status = 409, description = "the tracking type does not know who opened")))]
async fn recipients_csv(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path((id, which)): Path<(String, String)>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let which = which.trim_end_matches(".csv").to_string();
    let who = Who::of(&which).ok_or_else(|| {
        ApiError::not_found(format!(
            "no download {which}: recipients, openers, clickers, non_openers or bounced"
        ))
    })?;
    super::api::may_view(&state, &session, &id).await?;
    let tracking = state
        .sending
        .tracking(&id)
        .await
        .map_err(|e| ApiError::internal("the system database", e))?;
    if who.needs_recipients() && tracking.kind != TrackingType::Personal {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job {id} was tracked {}: only personal tracking knows who opened or clicked",
                crate::send::store::kind_key(tracking.kind)
            ),
        ));
    }
    let columns = state
        .lists
        .of_job(&id)
        .await
        .map_err(|e| ApiError::internal("the system database", e))?
        .map(|l| l.columns)
        .unwrap_or_default();
    let mut header = vec!["number".to_string()];
    header.extend(columns);
    header.extend(["delivery", "reply", "opened", "clicked", "unsubscribed"].map(str::to_string));
    let people: &'static str = if q.people_only.unwrap_or(true) {
        " AND e.machine = ''"
    } else {
        ""
    };
    let db = state.db.clone();
    let body = paged_csv(csv_header(header), -1, move |after| {
        let (db, id) = (db.clone(), id.clone());
        async move { page(&db, &id, who, people, after).await }
    });
    Ok(csv_response(format!("{which}.csv"), body))
}

/// A sent job's tracking events as CSV: time (UTC), kind, the recipient's number (as in
/// recipients.csv) and address where the tracking type knows them, the link's number and
/// address, the agent, whether a machine made the event (yes/no) and what gave it away.
#[utoipa::path(get, path = "/jobs/{id}/report/events.csv", tag = "reports", params(DownloadQuery),
    responses((status = 200, content_type = "text/csv"), (status = 403), (status = 404)))]
async fn events_csv(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    super::api::may_view(&state, &session, &id).await?;
    let db = state.db.clone();
    let header = events_header();
    let context = Arc::new(EventsContext::of(&state, &id, q.people_only.unwrap_or(true)).await?);
    // By source (one per Tracker) and within it by the source's own order, a page at a time
    // from where the last one ended.
    let sources: Vec<String> = sqlx::query(
        "SELECT DISTINCT source FROM tracking_events WHERE job_id = $1 ORDER BY source",
    )
    .bind(&id)
    .fetch_all(&db.pool)
    .await
    .map_err(|e| ApiError::internal("the system database", e))?
    .iter()
    .filter_map(|r| r.try_get::<String, _>(0).ok())
    .collect();
    let pages = futures_util::stream::unfold(Some((0usize, -1i64)), move |position| {
        let (db, id, sources) = (db.clone(), id.clone(), sources.clone());
        let context = context.clone();
        async move {
            let (mut source, mut after) = position?;
            loop {
                let name = sources.get(source)?;
                match events_page(&db, &id, &context, name, after).await {
                    Ok((text, Some(last))) => {
                        return Some((Ok::<_, std::io::Error>(text), Some((source, last))));
                    }
                    Ok((_, None)) => {
                        source += 1;
                        after = -1;
                    }
                    Err(e) => {
                        return Some((Err(std::io::Error::other(e.to_string())), None));
                    }
                }
            }
        }
    });
    let body = axum::body::Body::from_stream(futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(header) }),
        pages,
    ));
    Ok(csv_response("events.csv".into(), body))
}

fn events_header() -> String {
    csv_header([
        "time",
        "kind",
        "number",
        "address",
        "link",
        "url",
        "agent",
        "machine",
        "machine_signs",
    ])
}

/// What turns an event's numbers into addresses: the list's address column and the
/// message's links.
struct EventsContext {
    email_column: Option<usize>,
    links: Vec<String>,
    /// Leave the events machines made out.
    people_only: bool,
}

impl EventsContext {
    async fn of(state: &LuiState, job: &str, people_only: bool) -> Result<EventsContext, ApiError> {
        let email_column = state
            .lists
            .of_job(job)
            .await
            .map_err(|e| ApiError::internal("the system database", e))?
            .map(|l| l.email_column);
        let links = crate::send::api::tracking_view(state, job)
            .await?
            .links
            .into_iter()
            .map(|l| l.url)
            .collect();
        Ok(EventsContext {
            email_column,
            links,
            people_only,
        })
    }
}

/// One page of a source's events for a job after `after` (the source's sequence number).
async fn events_page(
    db: &Database,
    job: &str,
    context: &EventsContext,
    source: &str,
    after: i64,
) -> sqlx::Result<(String, Option<i64>)> {
    // The address is the recipient's row as sent (only personal tracking records who).
    let people = if context.people_only {
        " AND e.machine = ''"
    } else {
        ""
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT e.at_ms, e.kind, e.recipient, e.link, e.agent, e.machine, e.seq, r.fields \
         FROM tracking_events e \
         LEFT JOIN sent_recipients s ON s.job_id = e.job_id AND s.number = e.recipient \
         LEFT JOIN recipients r ON r.list_id = s.list_id AND r.seq = s.seq \
         WHERE e.job_id = $1 AND e.source = $2 AND e.seq > $3{people} ORDER BY e.seq LIMIT $4"
    )))
    .bind(job)
    .bind(source)
    .bind(after)
    .bind(PAGE)
    .fetch_all(&db.pool)
    .await?;
    let mut text = String::new();
    let mut last = None;
    for r in &rows {
        let at: i64 = r.try_get(0)?;
        let time = chrono::DateTime::from_timestamp_millis(at)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let recipient: Option<i64> = r.try_get(2)?;
        let link: Option<i64> = r.try_get(3)?;
        let fields: Option<String> = r.try_get(7)?;
        let address = fields
            .and_then(|f| serde_json::from_str::<Vec<String>>(&f).ok())
            .zip(context.email_column)
            .and_then(|(fields, column)| fields.into_iter().nth(column))
            .unwrap_or_default();
        let url = link
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| context.links.get(n))
            .cloned()
            .unwrap_or_default();
        let signs: String = r.try_get(5)?;
        text.push_str(&csv_line([
            time,
            r.try_get::<String, _>(1)?,
            recipient.map(|n| n.to_string()).unwrap_or_default(),
            address,
            link.map(|n| (n + 1).to_string()).unwrap_or_default(),
            url,
            r.try_get::<String, _>(4)?,
            if signs.is_empty() { "no" } else { "yes" }.to_string(),
            signs,
        ]));
        last = Some(r.try_get::<i64, _>(6)?);
    }
    Ok((text, last))
}

/// Appends one CSV to the zip, page by page.
async fn zip_csv<F, Fut>(
    zip: &mut zip::ZipWriter<std::fs::File>,
    name: &str,
    header: String,
    mut page: F,
) -> anyhow::Result<()>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<(String, Option<i64>)>>,
{
    use std::io::Write;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    tokio::task::block_in_place(|| zip.start_file(name, options))?;
    tokio::task::block_in_place(|| zip.write_all(header.as_bytes()))?;
    let mut after = -1;
    while let (text, Some(last)) = page(after).await? {
        tokio::task::block_in_place(|| zip.write_all(text.as_bytes()))?;
        after = last;
    }
    Ok(())
}

/// Every download of a sent job in one zip: recipients, openers, clickers, non-openers
/// (personal tracking), bounced, and the tracking events.
#[utoipa::path(get, path = "/jobs/{id}/report/all.zip", tag = "reports", params(DownloadQuery),
    responses((status = 200, content_type = "application/zip"), (status = 403), (status = 404)))]
async fn all_zip(
    State(state): State<Arc<LuiState>>,
    session: LuiSession,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    super::api::may_view(&state, &session, &id).await?;
    let internal = |e: anyhow::Error| ApiError::internal("the zip of the report", e);
    let tracking = state
        .sending
        .tracking(&id)
        .await
        .map_err(|e| ApiError::internal("the system database", e))?;
    let columns = state
        .lists
        .of_job(&id)
        .await
        .map_err(|e| ApiError::internal("the system database", e))?
        .map(|l| l.columns)
        .unwrap_or_default();
    let mut header = vec!["number".to_string()];
    header.extend(columns);
    header.extend(["delivery", "reply", "opened", "clicked", "unsubscribed"].map(str::to_string));
    let header = csv_header(header);
    let people: &'static str = if q.people_only.unwrap_or(true) {
        " AND e.machine = ''"
    } else {
        ""
    };
    // Written to a file that is gone from the folder once it is open: nothing is left
    // behind, whatever happens to the download.
    let dir = state.ctx.root.join("lui/luidata/downloads");
    std::fs::create_dir_all(&dir).map_err(|e| internal(e.into()))?;
    let path = dir.join(format!("{id}-{}.zip", crate::database::now_ms()));
    let file = std::fs::File::create(&path).map_err(|e| internal(e.into()))?;
    let mut zip = zip::ZipWriter::new(file);
    let mut files = vec![("recipients.csv", Who::All), ("bounced.csv", Who::Bounced)];
    if tracking.kind == TrackingType::Personal {
        files.extend([
            ("openers.csv", Who::Openers),
            ("clickers.csv", Who::Clickers),
            ("non_openers.csv", Who::NonOpeners),
        ]);
    }
    for (name, who) in files {
        let db = state.db.clone();
        zip_csv(&mut zip, name, header.clone(), |after| {
            let (db, id) = (db.clone(), id.clone());
            async move { page(&db, &id, who, people, after).await }
        })
        .await
        .map_err(internal)?;
    }
    let sources: Vec<String> = sqlx::query(
        "SELECT DISTINCT source FROM tracking_events WHERE job_id = $1 ORDER BY source",
    )
    .bind(&id)
    .fetch_all(&state.db.pool)
    .await
    .map_err(|e| ApiError::internal("the system database", e))?
    .iter()
    .filter_map(|r| r.try_get::<String, _>(0).ok())
    .collect();
    let events_header = events_header();
    let context = EventsContext::of(&state, &id, q.people_only.unwrap_or(true)).await?;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    tokio::task::block_in_place(|| zip.start_file("events.csv", options))
        .map_err(|e| internal(e.into()))?;
    {
        use std::io::Write;
        tokio::task::block_in_place(|| zip.write_all(events_header.as_bytes()))
            .map_err(|e| internal(e.into()))?;
        for source in &sources {
            let mut after = -1;
            while let (text, Some(last)) = events_page(&state.db, &id, &context, source, after)
                .await
                .map_err(|e| ApiError::internal("the system database", e))?
            {
                tokio::task::block_in_place(|| zip.write_all(text.as_bytes()))
                    .map_err(|e| internal(e.into()))?;
                after = last;
            }
        }
    }
    tokio::task::block_in_place(|| zip.finish()).map_err(|e| internal(e.into()))?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| internal(e.into()))?;
    let _ = tokio::fs::remove_file(&path).await;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/zip".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}-report.zip\""),
            ),
        ],
        body,
    )
        .into_response())
}
