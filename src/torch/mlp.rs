//! A multi-layer perceptron for tabular data: `depth` hidden layers of
//! `width` units, each a linear map, ReLU and dropout, then a linear
//! classifier.

use tch::nn;
use tch::{TchError, Tensor};

use super::TrainError;
use super::layers::Linear;
use super::train::Classifier;

/// Limits on the MLP's shape, checked when it is built. The width limit is
/// generous on purpose: a width that does not fit in memory is an
/// allocation failure of that trial, reported as such.
const MAX_DEPTH: usize = 64;

/// The shape of an [`Mlp`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// Features per example.
    pub inputs: i64,
    /// Units per hidden layer.
    pub width: i64,
    /// Hidden layers.
    pub depth: usize,
    /// Dropout probability after each hidden layer, in `[0, 1)`.
    pub dropout: f64,
    /// Number of classes.
    pub classes: i64,
}

impl MlpConfig {
    fn check(&self) -> Result<(), TrainError> {
        let bad = |what: String| Err(TrainError::Config(what));
        if self.inputs < 1 || self.width < 1 || self.classes < 1 {
            return bad(format!(
                "inputs ({}), width ({}) and classes ({}) must be positive",
                self.inputs, self.width, self.classes
            ));
        }
        if self.depth > MAX_DEPTH {
            return bad(format!(
                "depth must be at most {MAX_DEPTH}, got {}",
                self.depth
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }
}

/// The MLP (see the module docs).
#[derive(Debug)]
pub struct Mlp {
    inputs: i64,
    hidden: Vec<Linear>,
    dropout: f64,
    classifier: Linear,
}

impl Mlp {
    /// Builds the MLP's variables under `vs`.
    pub fn new(vs: &nn::Path, config: &MlpConfig) -> Result<Mlp, TrainError> {
        config.check()?;
        let device = vs.device();
        let torch = |e| TrainError::from_tch(e, device);
        let mut hidden = Vec::with_capacity(config.depth);
        let mut width = config.inputs;
        for layer in 0..config.depth {
            let path = vs / format!("hidden_{layer}");
            hidden.push(Linear::new(&path, width, config.width).map_err(torch)?);
            width = config.width;
        }
        Ok(Mlp {
            inputs: config.inputs,
            hidden,
            dropout: config.dropout,
            classifier: Linear::new(&(vs / "classifier"), width, config.classes).map_err(torch)?,
        })
    }
}

impl Classifier for Mlp {
    fn input_width(&self) -> i64 {
        self.inputs
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let mut ys = xs.shallow_clone();
        for layer in &self.hidden {
            ys = layer.forward(&ys)?.f_relu()?;
            if self.dropout > 0.0 {
                ys = ys.f_dropout(self.dropout, train)?;
            }
        }
        self.classifier.forward(&ys)
    }
}
