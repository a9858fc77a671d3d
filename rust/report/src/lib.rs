//! Reports: live console progress while tests run, and the reports at the
//! end. The JSON [`RunReport`] is the data every file report is rendered
//! from: JUnit XML for CI importers, Markdown for job summaries, and the JSON
//! document itself, which `dbtest merge` combines across shards.

mod console;
mod html;
mod json;
mod junit;
mod markdown;
mod merge;
mod summary;

pub use console::{ConsoleOptions, ConsoleReporter};
pub use html::html;
pub use json::{
    rfc3339, Attempt, PlanInfo, ReportError, RunInfo, RunReport, ShardInfo, TestReport, Totals,
    REPORT_SCHEMA, REPORT_VERSION,
};
pub use junit::{junit_xml, local_hostname, JunitError, JunitOptions};
pub use markdown::{markdown, markdown_with, MarkdownOptions};
pub use merge::{merge, merge_named, unreported, MergeError, Unreported};
pub use summary::{fails_the_run, summary_line, Counts, RunSummary};
