//! A NAS-Bench-201-style network for small images (Dong & Yang,
//! "NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture
//! Search", ICLR 2020), built from the architecture string the `cell` domain
//! produces.
//!
//! The network is a stem (3x3 convolution and batch norm), `stages` stages of
//! `cells_per_stage` copies of the searched cell, a reduction between stages
//! (ReLU, 3x3 convolution at stride 2 doubling the channels, batch norm;
//! NAS-Bench-201 uses a residual block there), and a head (batch norm, ReLU,
//! global average pooling, a linear classifier). In a cell, node 0 is the
//! cell's input, every later node is the sum of the ops on its edges from
//! earlier nodes, and the last node is the output; a node with only `none`
//! edges is zero, computed as such, as NAS-Bench-201 does.
//!
//! The string is read by [`hypersweep_search::cell::parse_arch`], the parser
//! the searchers use, so the network and the search space agree on the
//! notation and the edge order.

use hypersweep_search::cell::{self, MAX_CELL_NODES};
use tch::nn;
use tch::{TchError, Tensor};

use super::TrainError;
use super::layers::{BatchNorm, Conv, Linear, ReluConvBn, avg_pool_3x3};
use super::train::Classifier;

/// The ops this network knows, by their NAS-Bench-201 names.
pub const NAS_BENCH_201_OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

/// Limits on the network's shape, checked when it is built.
const MAX_CHANNELS: i64 = 4096;
const MAX_STAGES: usize = 4;
const MAX_CELLS_PER_STAGE: usize = 16;

/// The shape of a [`CellNetwork`].
#[derive(Debug, Clone, PartialEq)]
pub struct CellNetConfig {
    /// The cell, in NAS-Bench-201 notation
    /// (`|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|...|`).
    pub arch: String,
    /// Channels of the first stage (doubled at each reduction).
    pub channels: i64,
    /// Stages; each after the first halves the image and doubles the
    /// channels.
    pub stages: usize,
    /// Copies of the cell per stage.
    pub cells_per_stage: usize,
    /// Input images as `[channels, height, width]`; a data set's rows hold
    /// the pixels in this order.
    pub image: [i64; 3],
    /// Number of classes.
    pub classes: i64,
}

impl CellNetConfig {
    /// A network for the shipped digits (8x8 grey images, ten classes): 16
    /// channels, two stages of one cell each.
    pub fn digits(arch: impl Into<String>) -> CellNetConfig {
        CellNetConfig {
            arch: arch.into(),
            channels: 16,
            stages: 2,
            cells_per_stage: 1,
            image: [1, 8, 8],
            classes: 10,
        }
    }

    /// The cell's node count and the op index (into [`NAS_BENCH_201_OPS`])
    /// of each edge, or why the string is not a cell over those ops.
    pub fn parse_cell(&self) -> Result<(usize, Vec<usize>), TrainError> {
        let nodes = self.arch.split('+').count() + 1;
        if nodes > MAX_CELL_NODES {
            return Err(TrainError::Config(format!(
                "the cell `{}` has {nodes} nodes, more than {MAX_CELL_NODES}",
                self.arch
            )));
        }
        let choice = cell::parse_arch(&self.arch, nodes, &NAS_BENCH_201_OPS).ok_or_else(|| {
            TrainError::Config(format!(
                "`{}` is not a cell in NAS-Bench-201 notation over the ops {}",
                self.arch,
                NAS_BENCH_201_OPS.join(", ")
            ))
        })?;
        Ok((nodes, choice))
    }

    fn check(&self) -> Result<(), TrainError> {
        let bad = |what: String| Err(TrainError::Config(what));
        if !(1..=MAX_CHANNELS).contains(&self.channels) {
            return bad(format!(
                "channels must be between 1 and {MAX_CHANNELS}, got {}",
                self.channels
            ));
        }
        if !(1..=MAX_STAGES).contains(&self.stages) {
            return bad(format!(
                "stages must be between 1 and {MAX_STAGES}, got {}",
                self.stages
            ));
        }
        if !(1..=MAX_CELLS_PER_STAGE).contains(&self.cells_per_stage) {
            return bad(format!(
                "cells_per_stage must be between 1 and {MAX_CELLS_PER_STAGE}, got {}",
                self.cells_per_stage
            ));
        }
        if self.image.iter().any(|&d| d < 1) || self.classes < 1 {
            return bad(format!(
                "image {:?} and classes {} must be positive",
                self.image, self.classes
            ));
        }
        Ok(())
    }
}

/// One edge of a cell that is not `none`.
#[derive(Debug)]
enum EdgeOp {
    Skip,
    Conv(ReluConvBn),
    AvgPool,
}

impl EdgeOp {
    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor, TchError> {
        match self {
            EdgeOp::Skip => Ok(xs.shallow_clone()),
            EdgeOp::Conv(block) => block.forward(xs, train),
            EdgeOp::AvgPool => avg_pool_3x3(xs),
        }
    }
}

/// One copy of the searched cell.
#[derive(Debug)]
struct Cell {
    nodes: usize,
    /// `(target, source, op)` for every edge that is not `none`.
    edges: Vec<(usize, usize, EdgeOp)>,
}

impl Cell {
    fn new(vs: &nn::Path, nodes: usize, choice: &[usize], channels: i64) -> Result<Cell, TchError> {
        let mut edges = Vec::new();
        for ((target, source), &op) in cell::edges(nodes).zip(choice) {
            let path = vs / format!("edge_{target}_{source}");
            let edge = match NAS_BENCH_201_OPS[op] {
                "skip_connect" => EdgeOp::Skip,
                "nor_conv_1x1" => EdgeOp::Conv(ReluConvBn::new(&path, channels, channels, 1, 1)?),
                "nor_conv_3x3" => EdgeOp::Conv(ReluConvBn::new(&path, channels, channels, 3, 1)?),
                "avg_pool_3x3" => EdgeOp::AvgPool,
                _ => continue, // `none`: no edge.
            };
            edges.push((target, source, edge));
        }
        Ok(Cell { nodes, edges })
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let mut states: Vec<Tensor> = Vec::with_capacity(self.nodes);
        states.push(xs.shallow_clone());
        for node in 1..self.nodes {
            let mut sum: Option<Tensor> = None;
            for (_, source, op) in self.edges.iter().filter(|(t, _, _)| *t == node) {
                let ys = op.forward(&states[*source], train)?;
                sum = Some(match sum {
                    None => ys,
                    Some(acc) => acc.f_add(&ys)?,
                });
            }
            states.push(match sum {
                Some(s) => s,
                None => xs.f_zeros_like()?,
            });
        }
        Ok(states.pop().unwrap_or_else(|| xs.shallow_clone()))
    }
}

/// A stage's blocks, in order.
#[derive(Debug)]
enum Block {
    Cell(Cell),
    Reduction(ReluConvBn),
}

/// The network (see the module docs).
#[derive(Debug)]
pub struct CellNetwork {
    image: [i64; 3],
    stem: Conv,
    stem_bn: BatchNorm,
    blocks: Vec<Block>,
    head_bn: BatchNorm,
    classifier: Linear,
}

impl CellNetwork {
    /// Builds the network's variables under `vs`.
    pub fn new(vs: &nn::Path, config: &CellNetConfig) -> Result<CellNetwork, TrainError> {
        config.check()?;
        let (nodes, choice) = config.parse_cell()?;
        let device = vs.device();
        let torch = |e| TrainError::from_tch(e, device);
        let mut channels = config.channels;
        let stem = Conv::new(&(vs / "stem"), config.image[0], channels, 3, 1).map_err(torch)?;
        let stem_bn = BatchNorm::new(&(vs / "stem_bn"), channels).map_err(torch)?;
        let mut blocks = Vec::new();
        for stage in 0..config.stages {
            if stage > 0 {
                let path = vs / format!("reduce_{stage}");
                let block = ReluConvBn::new(&path, channels, channels * 2, 3, 2).map_err(torch)?;
                blocks.push(Block::Reduction(block));
                channels *= 2;
            }
            for k in 0..config.cells_per_stage {
                let path = vs / format!("stage_{stage}_cell_{k}");
                let cell = Cell::new(&path, nodes, &choice, channels).map_err(torch)?;
                blocks.push(Block::Cell(cell));
            }
        }
        Ok(CellNetwork {
            image: config.image,
            stem,
            stem_bn,
            blocks,
            head_bn: BatchNorm::new(&(vs / "head_bn"), channels).map_err(torch)?,
            classifier: Linear::new(&(vs / "classifier"), channels, config.classes)
                .map_err(torch)?,
        })
    }
}

impl Classifier for CellNetwork {
    fn input_width(&self) -> i64 {
        self.image.iter().product()
    }

    fn forward(&self, xs: &Tensor, train: bool) -> Result<Tensor, TchError> {
        let [c, h, w] = self.image;
        let images = xs.f_view([-1, c, h, w])?;
        let mut ys = self.stem_bn.forward(&self.stem.forward(&images)?, train)?;
        for block in &self.blocks {
            ys = match block {
                Block::Cell(cell) => cell.forward(&ys, train)?,
                Block::Reduction(r) => r.forward(&ys, train)?,
            };
        }
        let pooled = self
            .head_bn
            .forward(&ys, train)?
            .f_relu()?
            .f_adaptive_avg_pool2d([1, 1])?
            .f_flatten(1, -1)?;
        self.classifier.forward(&pooled)
    }
}
