//! The layers the trainers are built from, written on tch's fallible (`f_*`)
//! calls so an allocation failure in the weights or the activations is an
//! `Err`, not a panic (tch's `nn` modules unwrap inside `forward`).

use tch::nn::{self, Init};
use tch::{TchError, Tensor};

/// Batch normalisation's momentum for the running statistics, and its
/// epsilon (torch's defaults).
const BN_MOMENTUM: f64 = 0.1;
const BN_EPS: f64 = 1e-5;

/// A fully connected layer `x Wᵀ + b`.
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    /// Kaiming-uniform weights and, like torch's `nn.Linear`, biases uniform
    /// in `±1/sqrt(inputs)`.
    pub(crate) fn new(vs: &nn::Path, inputs: i64, outputs: i64) -> Result<Linear, TchError> {
        let bound = 1.0 / (inputs.max(1) as f64).sqrt();
        Ok(Linear {
            weight: vs.f_var(
                "weight",
                &[outputs, inputs],
                nn::init::DEFAULT_KAIMING_UNIFORM,
            )?,
            bias: vs.f_var(
                "bias",
                &[outputs],
                Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
            )?,
        })
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        xs.f_linear(&self.weight, Some(&self.bias))
    }
}

/// Batch normalisation over the channels of `[n, c, h, w]` activations,
/// with a learned scale and shift and running statistics for evaluation.
#[derive(Debug)]
pub(crate) struct BatchNorm {
    scale: Tensor,
    shift: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
}

impl BatchNorm {
    pub(crate) fn new(vs: &nn::Path, channels: i64) -> Result<BatchNorm, TchError> {
        Ok(BatchNorm {
            scale: vs.f_ones("weight", &[channels])?,
            shift: vs.f_zeros("bias", &[channels])?,
            running_mean: vs.f_zeros_no_train("running_mean", &[channels])?,
            running_var: vs.f_ones_no_train("running_var", &[channels])?,
        })
    }

    /// Normalises by the batch's statistics (and updates the running ones)
    /// when `train`, by the running statistics otherwise.
    pub(crate) fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor, TchError> {
        xs.f_batch_norm(
            Some(&self.scale),
            Some(&self.shift),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            BN_MOMENTUM,
            BN_EPS,
            true,
        )
    }
}

/// A square convolution without bias (a batch norm follows every one).
#[derive(Debug)]
pub(crate) struct Conv {
    weight: Tensor,
    stride: i64,
    padding: i64,
}

impl Conv {
    /// A `kernel`x`kernel` convolution, padded to keep the size at stride 1.
    pub(crate) fn new(
        vs: &nn::Path,
        inputs: i64,
        outputs: i64,
        kernel: i64,
        stride: i64,
    ) -> Result<Conv, TchError> {
        Ok(Conv {
            weight: vs.f_var(
                "weight",
                &[outputs, inputs, kernel, kernel],
                nn::init::DEFAULT_KAIMING_UNIFORM,
            )?,
            stride,
            padding: kernel / 2,
        })
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        xs.f_conv2d::<Tensor>(
            &self.weight,
            None,
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        )
    }
}

/// NAS-Bench-201's ReLU-Conv-BN block.
#[derive(Debug)]
pub(crate) struct ReluConvBn {
    conv: Conv,
    bn: BatchNorm,
}

impl ReluConvBn {
    pub(crate) fn new(
        vs: &nn::Path,
        inputs: i64,
        outputs: i64,
        kernel: i64,
        stride: i64,
    ) -> Result<ReluConvBn, TchError> {
        Ok(ReluConvBn {
            conv: Conv::new(&(vs / "conv"), inputs, outputs, kernel, stride)?,
            bn: BatchNorm::new(&(vs / "bn"), outputs)?,
        })
    }

    pub(crate) fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let ys = self.conv.forward(&xs.f_relu()?)?;
        self.bn.forward(&ys, train)
    }
}

/// A 3x3 average pool at stride 1, padded, not counting the padding (as
/// NAS-Bench-201's `avg_pool_3x3`).
pub(crate) fn avg_pool_3x3(xs: &Tensor) -> Result<Tensor, TchError> {
    xs.f_avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None::<i64>)
}
