//! From raw round times to what the reports show: each member's statistics, its
//! ratio to the group's reference (the baseline member, else the fastest), and,
//! against a saved run, its change, verdict and whether it trips the gate.

use crate::{BenchRun, LaneInfo, MemberRun};
use dbtest_benchstats::{compare, Comparison, Summary, Verdict};
use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "dbtest-bench";
pub const VERSION: u32 = 1;

/// The whole run, as the JSON report (and a saved run) holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Analysis {
    pub schema: String,
    pub version: u32,
    /// Seconds since the epoch.
    pub created: u64,
    pub git_commit: Option<String>,
    pub lane: Option<LaneInfo>,
    pub settings: Settings,
    /// The saved run `--compare` named.
    pub compared_with: Option<String>,
    pub interrupted: bool,
    pub groups: Vec<GroupAnalysis>,
}

/// How the run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub precision: f64,
    pub budget_seconds: f64,
    pub min_rounds: usize,
    pub warmup_rounds: u32,
    pub fail_on_regression: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupAnalysis {
    pub file: String,
    pub group: String,
    /// The member ratios are relative to.
    pub reference: Option<String>,
    /// `baseline` (the group names it) or `fastest`.
    pub reference_kind: String,
    pub members: Vec<MemberAnalysis>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberAnalysis {
    #[serde(flatten)]
    pub run: MemberRun,
    /// Seconds per call, one per round (the round times over the iterations).
    pub samples: Vec<f64>,
    pub stats: Option<Summary>,
    /// Against the group's reference.
    pub ratio: Option<Comparison>,
    pub fastest: bool,
    pub slowest: bool,
    pub change: Option<Change>,
}

/// Against the same member in a saved run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub comparison: Comparison,
    pub verdict: Verdict,
    /// Slower, significantly, by more than `--fail-on-regression`.
    pub regressed: bool,
}

/// Analyses `run`; `saved` (with its name) gives each member's change.
pub fn analyze(
    run: &BenchRun,
    settings: Settings,
    saved: Option<(&str, &Analysis)>,
    git_commit: Option<String>,
    created: u64,
) -> Analysis {
    let mut groups: Vec<GroupAnalysis> = Vec::new();
    for member in &run.members {
        let samples = member.samples();
        let stats = Summary::of(&samples).ok();
        let analysis = MemberAnalysis {
            run: member.clone(),
            samples,
            stats,
            ratio: None,
            fastest: false,
            slowest: false,
            change: None,
        };
        match groups
            .iter_mut()
            .find(|g| g.file == member.file && g.group == member.group)
        {
            Some(group) => group.members.push(analysis),
            None => groups.push(GroupAnalysis {
                file: member.file.clone(),
                group: member.group.clone(),
                reference: None,
                reference_kind: String::new(),
                members: vec![analysis],
            }),
        }
    }
    for group in &mut groups {
        ratios(group);
        if let Some((_, saved)) = saved {
            changes(group, saved, &settings);
        }
    }
    Analysis {
        schema: SCHEMA.into(),
        version: VERSION,
        created,
        git_commit,
        lane: run.lane.clone(),
        settings,
        compared_with: saved.map(|(name, _)| name.to_string()),
        interrupted: run.interrupted,
        groups,
    }
}

fn median_of(m: &MemberAnalysis) -> Option<f64> {
    m.stats.as_ref().map(|s| s.median)
}

fn ratios(group: &mut GroupAnalysis) {
    let measured: Vec<usize> = (0..group.members.len())
        .filter(|&i| median_of(&group.members[i]).is_some())
        .collect();
    let by_median = |a: &usize, b: &usize| {
        let (x, y) = (median_of(&group.members[*a]), median_of(&group.members[*b]));
        x.unwrap_or(f64::INFINITY)
            .total_cmp(&y.unwrap_or(f64::INFINITY))
    };
    let fastest = measured.iter().copied().min_by(by_median);
    let slowest = measured.iter().copied().max_by(by_median);
    let named = group.members.iter().find_map(|m| m.run.baseline.clone());
    let baseline = named.as_ref().and_then(|name| {
        measured
            .iter()
            .copied()
            .find(|&i| group.members[i].run.member == *name)
    });
    let (reference, kind) = match (baseline, fastest) {
        (Some(i), _) => (Some(i), "baseline"),
        (None, Some(i)) => (Some(i), "fastest"),
        (None, None) => (None, ""),
    };
    group.reference_kind = kind.into();
    group.reference = reference.map(|i| group.members[i].run.member.clone());
    if measured.len() > 1 {
        if let Some(i) = fastest {
            group.members[i].fastest = true;
        }
        if let Some(i) = slowest {
            group.members[i].slowest = true;
        }
    }
    if let Some(r) = reference {
        let reference_samples = group.members[r].samples.clone();
        for &i in &measured {
            group.members[i].ratio = compare(&reference_samples, &group.members[i].samples).ok();
        }
    }
}

fn changes(group: &mut GroupAnalysis, saved: &Analysis, settings: &Settings) {
    for member in &mut group.members {
        let Some(old) = saved
            .groups
            .iter()
            .flat_map(|g| &g.members)
            .find(|m| m.run.id == member.run.id && !m.samples.is_empty())
        else {
            continue;
        };
        if member.samples.is_empty() {
            continue;
        }
        let Ok(comparison) = compare(&old.samples, &member.samples) else {
            continue;
        };
        let verdict = comparison.verdict(settings.precision);
        let regressed = settings
            .fail_on_regression
            .is_some_and(|pct| comparison.regressed(pct, settings.precision));
        member.change = Some(Change {
            comparison,
            verdict,
            regressed,
        });
    }
}

impl Analysis {
    pub fn members(&self) -> impl Iterator<Item = &MemberAnalysis> {
        self.groups.iter().flat_map(|g| &g.members)
    }

    pub fn regressions(&self) -> usize {
        self.members()
            .filter(|m| m.change.as_ref().is_some_and(|c| c.regressed))
            .count()
    }

    pub fn errors(&self) -> usize {
        self.members().filter(|m| m.run.error.is_some()).count()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    pub fn from_json(text: &str) -> Result<Analysis, String> {
        let analysis: Analysis = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if analysis.schema != SCHEMA || analysis.version != VERSION {
            return Err(format!(
                "not a {SCHEMA} report of version {VERSION} (schema {:?}, version {})",
                analysis.schema, analysis.version
            ));
        }
        Ok(analysis)
    }
}
