//! NAS-Bench-201-style cells: a DAG over `nodes` nodes where every node `i`
//! takes one operation on the edge from each earlier node `j < i`.
//!
//! A cell's value is its architecture string in NAS-Bench-201 notation,
//! `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`: one `+`-separated group per node
//! after the input, listing the op on the edge from each earlier node (the
//! number after `~`). The op names are the user's. Edges are ordered the same
//! way everywhere in this crate (by target node, then source node), and an
//! architecture is also a number in mixed radix (`ops.len()` per edge, the
//! first edge the most significant digit) for the grid and for the one
//! coordinate a cell has in [`crate::Domain`]'s encoding.
//!
//! Searchers do not search the string: [`expand`] turns each cell into one
//! categorical parameter per edge, so TPE, GP, Sobol, random and evolution
//! see ordinary categoricals, and the suggestion is put back together into
//! the string. The op named [`NONE_OP`] is an absent edge; a cell with no path
//! from the input node to the output node computes nothing, and searchers
//! skip it unless the domain says `run_disconnected`.

pub mod expand;

/// The op name that means "no edge" (NAS-Bench-201's `none`, a zero op).
pub const NONE_OP: &str = "none";

/// Characters an op name may not hold: they delimit the architecture string.
pub const RESERVED_CHARS: &[char] = &['|', '~', '+'];

/// The most nodes a cell may have (120 edges).
pub const MAX_CELL_NODES: usize = 16;

/// Number of edges of a cell of `nodes` nodes: one per pair `j < i`.
pub fn edge_count(nodes: usize) -> usize {
    nodes * nodes.saturating_sub(1) / 2
}

/// The edges as `(target, source)` pairs, in the order of the architecture
/// string.
pub fn edges(nodes: usize) -> impl Iterator<Item = (usize, usize)> {
    (1..nodes).flat_map(|i| (0..i).map(move |j| (i, j)))
}

/// The architecture string of a cell whose edge `e` (in [`edges`] order)
/// carries `ops[choice[e]]`.
pub fn arch_string<S: AsRef<str>>(nodes: usize, ops: &[S], choice: &[usize]) -> String {
    let mut out = String::new();
    let mut e = 0;
    for i in 1..nodes {
        if i > 1 {
            out.push('+');
        }
        out.push('|');
        for j in 0..i {
            let op = choice
                .get(e)
                .and_then(|&k| ops.get(k))
                .map_or("?", |s| s.as_ref());
            out.push_str(op);
            out.push('~');
            out.push_str(&j.to_string());
            out.push('|');
            e += 1;
        }
    }
    out
}

/// The op index of each edge of an architecture string; `None` when the
/// string is not a cell of `nodes` nodes over `ops`.
pub fn parse_arch<S: AsRef<str>>(text: &str, nodes: usize, ops: &[S]) -> Option<Vec<usize>> {
    let groups: Vec<&str> = text.split('+').collect();
    if nodes < 2 || groups.len() != nodes - 1 {
        return None;
    }
    let mut choice = Vec::with_capacity(edge_count(nodes));
    for (g, group) in groups.iter().enumerate() {
        let inner = group.strip_prefix('|')?.strip_suffix('|')?;
        let entries: Vec<&str> = inner.split('|').collect();
        if entries.len() != g + 1 {
            return None;
        }
        for (j, entry) in entries.iter().enumerate() {
            let (op, source) = entry.rsplit_once('~')?;
            if source != j.to_string() {
                return None;
            }
            choice.push(ops.iter().position(|o| o.as_ref() == op)?);
        }
    }
    Some(choice)
}

/// True when some path of edges that are not [`NONE_OP`] leads from node 0
/// (the input) to node `nodes - 1` (the output).
pub fn is_connected<S: AsRef<str>>(nodes: usize, ops: &[S], choice: &[usize]) -> bool {
    if nodes < 2 {
        return true;
    }
    let mut reached = vec![false; nodes];
    reached[0] = true;
    // Edges go from lower to higher nodes, in order of target: one pass.
    for ((i, j), &k) in edges(nodes).zip(choice) {
        let present = ops.get(k).is_some_and(|op| op.as_ref() != NONE_OP);
        if present && reached[j] {
            reached[i] = true;
        }
    }
    reached[nodes - 1]
}

/// Number of architectures, `ops^edges`, saturating at `usize::MAX`.
pub fn arch_count(nodes: usize, n_ops: usize) -> usize {
    u32::try_from(edge_count(nodes))
        .ok()
        .and_then(|e| n_ops.checked_pow(e))
        .unwrap_or(usize::MAX)
}

/// The architecture's number in mixed radix (first edge most significant);
/// `None` when it does not fit in `u128`.
pub fn arch_index(choice: &[usize], n_ops: usize) -> Option<u128> {
    choice.iter().try_fold(0u128, |acc, &k| {
        acc.checked_mul(n_ops as u128)?.checked_add(k as u128)
    })
}

/// The edge choices of architecture number `index` (inverse of
/// [`arch_index`]).
pub fn arch_of_index(mut index: u128, nodes: usize, n_ops: usize) -> Vec<usize> {
    let n = edge_count(nodes);
    let mut choice = vec![0; n];
    let radix = n_ops.max(1) as u128;
    for slot in choice.iter_mut().rev() {
        *slot = (index % radix) as usize;
        index /= radix;
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: [&str; 5] = [
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
    ];

    #[test]
    fn string_matches_nas_bench_201_notation() {
        let s = arch_string(4, &OPS, &[3, 1, 3, 0, 2, 4]);
        assert_eq!(
            s,
            "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|"
        );
        assert_eq!(parse_arch(&s, 4, &OPS), Some(vec![3, 1, 3, 0, 2, 4]));
    }

    #[test]
    fn every_cell_of_the_201_space_round_trips() {
        let total = arch_count(4, OPS.len());
        assert_eq!(total, 15_625);
        let mut connected = 0;
        for index in 0..total as u128 {
            let choice = arch_of_index(index, 4, OPS.len());
            assert_eq!(arch_index(&choice, OPS.len()), Some(index));
            let s = arch_string(4, &OPS, &choice);
            assert_eq!(parse_arch(&s, 4, &OPS).as_ref(), Some(&choice), "{s}");
            connected += usize::from(is_connected(4, &OPS, &choice));
        }
        // Known answer: 341 of the 15,625 cells have a `none` edge on every
        // path 0 -> 3 (counted independently by enumerating the four paths).
        assert_eq!(connected, 15_284);
        assert_eq!(connected, brute_force_connected());
    }

    /// Counts connected 4-node cells by enumerating all paths 0 -> 3.
    fn brute_force_connected() -> usize {
        let paths: [&[(usize, usize)]; 4] = [
            &[(3, 0)],
            &[(1, 0), (3, 1)],
            &[(2, 0), (3, 2)],
            &[(1, 0), (2, 1), (3, 2)],
        ];
        let pos = |edge: (usize, usize)| edges(4).position(|e| e == edge).unwrap_or(usize::MAX);
        (0..15_625u128)
            .filter(|&index| {
                let choice = arch_of_index(index, 4, 5);
                paths
                    .iter()
                    .any(|path| path.iter().all(|&e| choice[pos(e)] != 0))
            })
            .count()
    }

    #[test]
    fn malformed_strings_are_refused() {
        for bad in [
            "",
            "|none~0|",
            "|none~0|+|none~0|none~1|+|none~0|none~1|",
            "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        ] {
            assert_eq!(parse_arch(bad, 4, &OPS), None, "{bad}");
        }
    }

    #[test]
    fn a_cell_of_none_edges_into_the_output_is_disconnected() {
        assert!(!is_connected(4, &OPS, &[1, 1, 1, 0, 0, 0]));
        assert!(is_connected(4, &OPS, &[1, 0, 1, 0, 0, 1]));
        assert!(is_connected(4, &OPS, &[0, 1, 0, 0, 3, 1]));
        assert!(!is_connected(4, &OPS, &[0, 1, 0, 0, 3, 0]));
    }
}
