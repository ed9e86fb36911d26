//! `early_terminate`: W&B's hyperband keys and ours, kept apart.
//!
//! W&B's block (`min_iter`, or `max_iter` with `s`; `eta`; `strict`) asks for
//! W&B's own band rule, and an existing W&B file must get exactly that. Our
//! pruners use Optuna's and Ray's names (`min_resource`, `max_resource`,
//! `warmup_steps`, `percentile`). A file that mixes the two would be read one
//! way by us and another by W&B, so it is refused, as is any type we do not
//! implement (with the list of those we do).

use serde_json::Value;

use super::fields::{Fields, Res, fault, list};
use super::{EarlyTerminate, MinResource, PrunerKind};

const KEYS: &[&str] = &[
    "type",
    "min_iter",
    "max_iter",
    "eta",
    "s",
    "strict",
    "min_resource",
    "max_resource",
    "warmup_steps",
    "percentile",
];

/// The types we implement.
const PRUNERS: &[&str] = &["hyperband", "asha", "median", "percentile", "none"];

/// W&B's keys beyond `type` and `eta`.
const WANDB_KEYS: &[&str] = &["min_iter", "max_iter", "s", "strict"];

/// Reads `early_terminate`.
pub(crate) fn parse_early_terminate(value: &Value) -> Res<EarlyTerminate> {
    let path = "early_terminate";
    let f = Fields::of(value, path, "the early_terminate section")?;
    f.only(KEYS, "`early_terminate`")?;
    let kind_name = f.string("type")?.ok_or_else(|| {
        fault(
            f.path_of("type"),
            format!("missing `type`: one of {}", list(PRUNERS)),
        )
    })?;
    let kind = match kind_name {
        "hyperband" => PrunerKind::Hyperband,
        "asha" => PrunerKind::Asha,
        "median" => PrunerKind::Median,
        "percentile" => PrunerKind::Percentile,
        "none" => PrunerKind::None,
        other => {
            return Err(fault(
                f.path_of("type"),
                format!(
                    "early_terminate type `{other}` is not implemented; implemented: {}",
                    list(PRUNERS)
                ),
            ));
        }
    };
    let eta = f.number("eta")?.unwrap_or(3.0);
    if !(eta > 1.0 && eta.is_finite()) {
        return Err(fault(
            f.path_of("eta"),
            format!("expected eta > 1, got {eta}"),
        ));
    }
    let mut et = EarlyTerminate::new(kind);
    et.eta = eta;
    et.min_iter = f.unsigned("min_iter")?;
    et.max_iter = f.unsigned("max_iter")?;
    et.s = f.unsigned("s")?;
    et.strict = f.boolean("strict")?.unwrap_or(false);
    et.min_resource = min_resource(&f)?;
    et.max_resource = f.unsigned("max_resource")?;
    et.warmup_steps = f.unsigned("warmup_steps")?;
    et.percentile = f.number("percentile")?;
    if et.min_iter == Some(0) {
        return Err(fault(f.path_of("min_iter"), "expected min_iter >= 1"));
    }
    if et.max_resource == Some(0) {
        return Err(fault(
            f.path_of("max_resource"),
            "expected max_resource >= 1",
        ));
    }
    if let (Some(lo), Some(hi)) = (et.min_iter, et.max_iter)
        && lo > hi
    {
        return Err(fault(
            f.path_of("max_iter"),
            format!("expected max_iter >= min_iter, got {hi} < {lo}"),
        ));
    }
    if let (Some(MinResource::Steps(lo)), Some(hi)) = (et.min_resource, et.max_resource)
        && lo > hi
    {
        return Err(fault(
            f.path_of("max_resource"),
            format!("expected max_resource >= min_resource, got {hi} < {lo}"),
        ));
    }
    match kind {
        PrunerKind::Hyperband => check_hyperband(&f, &mut et)?,
        PrunerKind::Asha => {
            only_ours(
                &f,
                &["min_resource", "max_resource", "warmup_steps"],
                kind_name,
            )?;
        }
        PrunerKind::Median => only_ours(&f, &["warmup_steps"], kind_name)?,
        PrunerKind::Percentile => {
            only_ours(&f, &["warmup_steps", "percentile"], kind_name)?;
            match et.percentile {
                Some(p) if p > 0.0 && p < 100.0 => {}
                Some(p) => {
                    return Err(fault(
                        f.path_of("percentile"),
                        format!("expected a percentile in (0, 100), got {p}"),
                    ));
                }
                None => {
                    return Err(fault(
                        f.path_of("percentile"),
                        "missing `percentile`: the share (0-100) of trials a trial must beat",
                    ));
                }
            }
        }
        _ => only_ours(&f, &[], kind_name)?,
    }
    Ok(et)
}

/// `min_resource`: an integer >= 1 or `"auto"`.
fn min_resource(f: &Fields) -> Res<Option<MinResource>> {
    match f.get("min_resource") {
        None => Ok(None),
        Some(Value::String(s)) if s == "auto" => Ok(Some(MinResource::Auto)),
        Some(_) => match f.unsigned("min_resource")? {
            Some(0) => Err(fault(
                f.path_of("min_resource"),
                "expected min_resource >= 1 or \"auto\"",
            )),
            n => Ok(n.map(MinResource::Steps)),
        },
    }
}

/// A W&B hyperband (bands) or ours (brackets), never a mix.
fn check_hyperband(f: &Fields, et: &mut EarlyTerminate) -> Res<()> {
    let wandb = WANDB_KEYS.iter().find(|k| f.has(k));
    let ours = ["min_resource", "max_resource", "warmup_steps"]
        .iter()
        .find(|k| f.has(k));
    if let (Some(w), Some(o)) = (wandb, ours) {
        return Err(fault(
            f.path_of(o),
            format!(
                "`{o}` (our hyperband) and `{w}` (W&B's hyperband) cannot be mixed: \
                 use min_iter | max_iter + s, eta, strict for W&B's bands, or \
                 min_resource, max_resource, eta, warmup_steps for ASHA brackets"
            ),
        ));
    }
    if f.has("percentile") {
        return Err(fault(
            f.path_of("percentile"),
            "`percentile` is read by the percentile pruner only",
        ));
    }
    if wandb.is_some() || ours.is_none() {
        if et.min_iter.is_none() && et.max_iter.is_none() {
            return Err(fault(
                "early_terminate",
                "hyperband needs `min_iter` or `max_iter` (with `s`) for W&B's bands, \
                 or `max_resource` for ASHA brackets",
            ));
        }
        if let (Some(max_iter), None) = (et.max_iter, et.min_iter) {
            // W&B's bands are max_iter / eta^i, i = 1..=s, while >= 1.
            match et.s {
                None | Some(0) => {
                    return Err(fault(
                        f.path_of("s"),
                        "W&B's hyperband with `max_iter` needs `s` >= 1 (the number of bands)",
                    ));
                }
                Some(_) if (max_iter as f64) / et.eta < 1.0 => {
                    return Err(fault(
                        f.path_of("max_iter"),
                        format!("no band: max_iter {max_iter} / eta {} is below 1", et.eta),
                    ));
                }
                Some(_) => {}
            }
        }
        return Ok(());
    }
    if et.max_resource.is_none() {
        return Err(fault(
            f.path_of("max_resource"),
            "hyperband brackets need `max_resource` (the step a trial completes at)",
        ));
    }
    if et.min_resource == Some(MinResource::Auto) {
        return Err(fault(
            f.path_of("min_resource"),
            "hyperband brackets need a number for `min_resource` (\"auto\" is for asha)",
        ));
    }
    Ok(())
}

/// Rejects keys other pruners read; `min_iter` is accepted as W&B's name for
/// `min_resource` (asha) or `warmup_steps` (median, percentile), as before.
fn only_ours(f: &Fields, allowed: &[&str], kind: &str) -> Res<()> {
    let read_by_others = [
        "max_iter",
        "s",
        "strict",
        "min_resource",
        "max_resource",
        "warmup_steps",
        "percentile",
    ];
    match read_by_others
        .iter()
        .find(|k| f.has(k) && !allowed.contains(k))
    {
        Some(k) => Err(fault(
            f.path_of(k),
            format!("`{k}` is not read by the {kind} pruner"),
        )),
        None => Ok(()),
    }
}
