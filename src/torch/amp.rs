//! Dynamic loss scaling for float16 training (Micikevicius et al., "Mixed
//! Precision Training", ICLR 2018), what PyTorch's `GradScaler` does.
//!
//! Under autocast the backward pass produces float16 gradients, and small
//! ones underflow to zero. The loss is multiplied by a large scale before
//! the backward pass and the gradients divided by it before the optimizer
//! step. When any gradient is infinite or NaN (the scale was too large) the
//! step is skipped and the scale halved; after [`GROWTH_INTERVAL`] good
//! steps in a row it is doubled again. Cost per step: one pass over the
//! gradients and one device-to-host read of a single flag.
//!
//! tch has no `GradScaler`, hence this one. It is only used on CUDA devices;
//! see the caveat in the [module docs](super).

use tch::nn::Optimizer;
use tch::{Kind, TchError, Tensor};

/// The first scale, 2^16 (PyTorch's default).
pub const INITIAL_SCALE: f64 = 65536.0;

/// Good steps in a row before the scale doubles (PyTorch's default).
pub const GROWTH_INTERVAL: u32 = 2000;

/// Factor by which an overflow shrinks the scale, and a growth grows it.
const BACKOFF: f64 = 0.5;
const GROWTH: f64 = 2.0;

/// The scale stays at or above this, so a run of NaN gradients (a diverged
/// model, not an overflow) cannot drive it to zero.
const MIN_SCALE: f64 = 1.0;

/// The state of dynamic loss scaling for one training run.
#[derive(Debug, Clone)]
pub struct LossScaler {
    scale: f64,
    good_steps: u32,
    skipped: u64,
}

impl Default for LossScaler {
    fn default() -> Self {
        LossScaler {
            scale: INITIAL_SCALE,
            good_steps: 0,
            skipped: 0,
        }
    }
}

impl LossScaler {
    /// The current scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Steps skipped for non-finite gradients so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Back-propagates `loss` scaled, unscales the gradients of `opt`'s
    /// variables and steps the optimizer unless a gradient overflowed.
    /// Answers whether the step was taken. The caller zeroes the gradients
    /// before the next batch.
    pub fn backward_step(&mut self, loss: &Tensor, opt: &mut Optimizer) -> Result<bool, TchError> {
        loss.f_mul_scalar(self.scale)?.f_backward()?;
        let finite = unscale_gradients(&opt.trainable_variables(), 1.0 / self.scale)?;
        if finite {
            opt.step();
        }
        Ok(self.update(finite))
    }

    /// Adjusts the scale after a step whose gradients were `finite`;
    /// answers `finite`.
    fn update(&mut self, finite: bool) -> bool {
        if finite {
            self.good_steps += 1;
            if self.good_steps >= GROWTH_INTERVAL {
                self.scale *= GROWTH;
                self.good_steps = 0;
            }
        } else {
            self.scale = (self.scale * BACKOFF).max(MIN_SCALE);
            self.good_steps = 0;
            self.skipped += 1;
        }
        finite
    }
}

/// Multiplies every defined gradient by `factor` in place; answers whether
/// all of them are finite.
fn unscale_gradients(variables: &[Tensor], factor: f64) -> Result<bool, TchError> {
    let mut flags = Vec::with_capacity(variables.len());
    for var in variables {
        let mut grad = var.grad();
        if grad.defined() {
            let _ = grad.f_mul_scalar_(factor)?;
            flags.push(grad.f_isfinite()?.f_all()?);
        }
    }
    if flags.is_empty() {
        return Ok(true);
    }
    // One read back for all variables.
    let all = Tensor::f_stack(&flags, 0)?
        .f_all()?
        .f_to_kind(Kind::Int64)?;
    Ok(all.f_int64_value(&[])? != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflow_halves_the_scale_and_a_long_good_run_doubles_it() {
        let mut s = LossScaler::default();
        assert!(!s.update(false));
        assert_eq!((s.scale(), s.skipped()), (INITIAL_SCALE / 2.0, 1));
        for _ in 0..GROWTH_INTERVAL - 1 {
            assert!(s.update(true));
        }
        assert_eq!(s.scale(), INITIAL_SCALE / 2.0);
        s.update(true);
        assert_eq!(s.scale(), INITIAL_SCALE);
        for _ in 0..100 {
            s.update(false);
        }
        assert_eq!(s.scale(), MIN_SCALE);
    }

    #[test]
    fn gradients_are_unscaled_and_an_infinite_one_is_caught() {
        let a = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let b = Tensor::from_slice(&[3.0f32]).set_requires_grad(true);
        let loss = (&a * 4.0).sum(Kind::Float) + (&b * 8.0).sum(Kind::Float);
        loss.backward();
        let vars = [a.shallow_clone(), b.shallow_clone()];
        assert!(unscale_gradients(&vars, 0.25).expect("unscale"));
        assert_eq!(Vec::<f32>::try_from(a.grad()).expect("grad"), [1.0, 1.0]);
        assert_eq!(Vec::<f32>::try_from(b.grad()).expect("grad"), [2.0]);
        let c = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
        (&c * f64::INFINITY).sum(Kind::Float).backward();
        assert!(!unscale_gradients(&[c], 1.0).expect("unscale"));
    }
}
