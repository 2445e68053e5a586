//! The BPE merge loop of one word in O(n log n): a heap of adjacent pairs ordered by (merge rank,
//! position) over a doubly linked list of symbols.
//!
//! It gives exactly the reference's result (`SimpleTokenizer.bpe`: repeatedly take the adjacent pair of
//! lowest rank and merge all its occurrences in one left-to-right pass without overlaps): all heap
//! entries of the lowest rank are taken out together and applied in position order, skipping those an
//! earlier merge of the pass used up; pairs the pass creates go into the heap and are only looked at
//! afterwards, as the reference's next `min` over the new word would. The reference's quadratic loop
//! (one scan of the word per merge) made a single 1 MB word take minutes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// No neighbour.
const NONE: usize = usize::MAX;

/// `(rank, position of the left symbol, left id, right id)`, smallest first.
type Entry = Reverse<(u32, usize, u32, u32)>;

/// Words of at most this many symbols take the reference's loop (see [`merge_quadratic`]); longer ones
/// the heap. Real words are a few symbols long; the cut only bounds the cost of hostile ones.
const SHORT_WORD: usize = 32;

/// Merges `word` (symbol ids) in place with `merges`: `(left, right)` → `(rank, merged id)`.
pub(crate) fn merge_word(word: &mut Vec<u32>, merges: &HashMap<(u32, u32), (u32, u32)>) {
    if word.len() <= SHORT_WORD {
        *word = merge_quadratic(std::mem::take(word), merges);
    } else {
        merge_heap(word, merges);
    }
}

/// The reference's loop: one scan of the word per merge. Quadratic, but for the short words of real
/// text it beats the heap's bookkeeping.
fn merge_quadratic(mut word: Vec<u32>, merges: &HashMap<(u32, u32), (u32, u32)>) -> Vec<u32> {
    while word.len() > 1 {
        let best = word
            .windows(2)
            .filter_map(|w| merges.get(&(w[0], w[1])).map(|&(r, m)| (r, w[0], w[1], m)))
            .min_by_key(|m| m.0);
        let Some((_, a, b, m)) = best else { break };
        let mut out = Vec::with_capacity(word.len());
        let mut i = 0;
        while i < word.len() {
            if word[i] == a && i + 1 < word.len() && word[i + 1] == b {
                out.push(m);
                i += 2;
            } else {
                out.push(word[i]);
                i += 1;
            }
        }
        word = out;
    }
    word
}

/// [`merge_word`] in O(n log n), for long words.
fn merge_heap(word: &mut Vec<u32>, merges: &HashMap<(u32, u32), (u32, u32)>) {
    let n = word.len();
    if n < 2 {
        return;
    }
    let mut sym = std::mem::take(word);
    let mut next: Vec<usize> = (1..=n).map(|i| if i == n { NONE } else { i }).collect();
    let mut prev: Vec<usize> = (0..n).map(|i| i.checked_sub(1).unwrap_or(NONE)).collect();
    let mut alive = vec![true; n];
    let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(n);
    let push = |heap: &mut BinaryHeap<Entry>, pos: usize, a: u32, b: u32| {
        if let Some(&(rank, _)) = merges.get(&(a, b)) {
            heap.push(Reverse((rank, pos, a, b)));
        }
    };
    for i in 0..n - 1 {
        push(&mut heap, i, sym[i], sym[i + 1]);
    }
    let mut pass = Vec::new();
    while let Some(&Reverse((rank, ..))) = heap.peek() {
        // Every occurrence of the lowest-rank pair, in position order (the heap breaks ties by it).
        pass.clear();
        while let Some(Reverse(e)) = heap.peek().copied() {
            if e.0 != rank {
                break;
            }
            heap.pop();
            pass.push(e);
        }
        for &(_, pos, a, b) in &pass {
            let right = next[pos];
            // Skip entries that an earlier merge of this pass (or of an earlier one) used up.
            if !alive[pos] || right == NONE || sym[pos] != a || sym[right] != b {
                continue;
            }
            let Some(&(_, merged)) = merges.get(&(a, b)) else {
                continue;
            };
            sym[pos] = merged;
            alive[right] = false;
            let after = next[right];
            next[pos] = after;
            if after != NONE {
                prev[after] = pos;
                push(&mut heap, pos, merged, sym[after]);
            }
            let before = prev[pos];
            if before != NONE {
                push(&mut heap, before, sym[before], merged);
            }
        }
    }
    let mut i = 0;
    while i != NONE {
        word.push(sym[i]);
        i = next[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_reference_loop_on_random_vocabularies() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        for _ in 0..300 {
            // Symbols 0..4 and merges with random ranks, including ones whose rank is lower than
            // that of a merge producing their halves (which a trained vocabulary never has).
            let mut merges = HashMap::new();
            for k in 0..rnd(12) as u32 {
                // Merge k makes symbol 4 + k from any two earlier symbols.
                let next_id = 4 + k;
                let (a, b) = (
                    rnd(u64::from(next_id)) as u32,
                    rnd(u64::from(next_id)) as u32,
                );
                // Ranks are distinct, as in a merges file (one line per rank).
                let rank = rnd(1000) as u32 * 16 + k;
                merges.entry((a, b)).or_insert((rank, next_id));
            }
            let len = rnd(40) as usize;
            let word: Vec<u32> = (0..len).map(|_| rnd(4) as u32).collect();
            let mut fast = word.clone();
            merge_heap(&mut fast, &merges);
            assert_eq!(
                fast,
                merge_quadratic(word.clone(), &merges),
                "word {word:?}"
            );
        }
    }
}
