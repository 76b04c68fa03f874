//! Gemma's SentencePiece tokenizer, built from a GGUF file's metadata.
//!
//! The vocabulary (`tokenizer.ggml.tokens`), each piece's score (`tokenizer.ggml.scores`) and
//! type (`tokenizer.ggml.token_type`) are all it takes. Encoding a text:
//!
//! 1. User-defined pieces (type 4) found in the text are cut out as they are, the longest
//!    first, leftmost occurrence first. Control pieces (`<bos>`, `<start_of_turn>`, …) are
//!    never read from text: a prompt cannot forge them.
//! 2. In each remaining fragment spaces become `▁` (U+2581; Gemma adds no space prefix), the
//!    fragment is split into characters, and adjacent symbols are merged while some adjacent
//!    pair spells a piece: always the pair whose piece scores highest, the leftmost on a tie.
//! 3. A symbol that spells a piece is that piece; any other (a character outside the
//!    vocabulary) becomes its UTF-8 bytes as the byte pieces `<0xXX>`.
//!
//! Decoding joins the pieces, turns `▁` back into spaces and byte pieces back into bytes, so a
//! text survives encoding and decoding unchanged, except a `▁` written in the text itself,
//! which decodes as a space (as in every SentencePiece tokenizer).

use crate::gguf::{GgufFile, Value};
use std::collections::{BinaryHeap, HashMap};

/// A token id.
pub type TokenId = u32;

/// The piece type of a user-defined token, matched in text as it is.
const USER_DEFINED: u64 = 4;
/// The piece type of a control token.
const CONTROL: u64 = 3;

/// Why a tokenizer cannot be built from a file.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum TokenizerError {
	/// A metadata key the tokenizer needs is missing or has the wrong type.
	#[error("tokenizer metadata {0} is missing or malformed")]
	Metadata(&'static str),
	/// The tokenizer is not SentencePiece (`tokenizer.ggml.model` is not `llama`).
	#[error("tokenizer model {0:?} is not SentencePiece (llama)")]
	NotSentencePiece(String),
	/// Pieces, scores and types of different lengths.
	#[error("{pieces} pieces, {scores} scores and {types} types")]
	LengthMismatch {
		/// Pieces.
		pieces: usize,
		/// Scores.
		scores: usize,
		/// Types.
		types: usize,
	},
	/// A byte has no `<0xXX>` piece, so some text could not be encoded.
	#[error("no byte piece for {0:#04x}")]
	MissingBytePiece(u8),
}

/// A SentencePiece vocabulary and its special tokens.
pub struct Tokenizer {
	pieces: Vec<String>,
	scores: Vec<f32>,
	types: Vec<u64>,
	ids: HashMap<String, TokenId>,
	/// User-defined pieces, the longest first.
	user_defined: Vec<TokenId>,
	/// The byte pieces, by byte.
	bytes: [TokenId; 256],
	/// The beginning-of-sequence token.
	pub bos: TokenId,
	/// The end-of-sequence token.
	pub eos: TokenId,
}

impl Tokenizer {
	/// The tokenizer of `file`.
	pub fn from_gguf(file: &GgufFile) -> Result<Self, TokenizerError> {
		let model = file.get("tokenizer.ggml.model").and_then(Value::as_str);
		match model {
			Some("llama") => {},
			Some(other) => return Err(TokenizerError::NotSentencePiece(other.into())),
			None => return Err(TokenizerError::Metadata("tokenizer.ggml.model")),
		}
		let array = |key: &'static str| {
			file.get(key).and_then(Value::as_array).ok_or(TokenizerError::Metadata(key))
		};
		let pieces = array("tokenizer.ggml.tokens")?
			.iter()
			.map(|piece| piece.as_str().map(str::to_owned))
			.collect::<Option<Vec<_>>>()
			.ok_or(TokenizerError::Metadata("tokenizer.ggml.tokens"))?;
		let scores = array("tokenizer.ggml.scores")?
			.iter()
			.map(|score| score.as_f64().map(|score| score as f32))
			.collect::<Option<Vec<_>>>()
			.ok_or(TokenizerError::Metadata("tokenizer.ggml.scores"))?;
		let types = array("tokenizer.ggml.token_type")?
			.iter()
			.map(|kind| kind.as_f64().map(|kind| kind as u64))
			.collect::<Option<Vec<_>>>()
			.ok_or(TokenizerError::Metadata("tokenizer.ggml.token_type"))?;
		let id = |key: &'static str| {
			file.get(key)
				.and_then(Value::as_u64)
				.map(|id| id as TokenId)
				.ok_or(TokenizerError::Metadata(key))
		};
		let (bos, eos) = (id("tokenizer.ggml.bos_token_id")?, id("tokenizer.ggml.eos_token_id")?);
		Self::new(pieces, scores, types, bos, eos)
	}

	/// A tokenizer of these pieces, with their scores and types.
	pub fn new(
		pieces: Vec<String>,
		scores: Vec<f32>,
		types: Vec<u64>,
		bos: TokenId,
		eos: TokenId,
	) -> Result<Self, TokenizerError> {
		if pieces.len() != scores.len() || pieces.len() != types.len() {
			return Err(TokenizerError::LengthMismatch {
				pieces: pieces.len(),
				scores: scores.len(),
				types: types.len(),
			});
		}
		let mut ids = HashMap::with_capacity(pieces.len());
		for (id, piece) in pieces.iter().enumerate() {
			ids.entry(piece.clone()).or_insert(id as TokenId);
		}
		let mut bytes = [0; 256];
		for (byte, slot) in bytes.iter_mut().enumerate() {
			*slot = *ids
				.get(&format!("<0x{byte:02X}>"))
				.ok_or(TokenizerError::MissingBytePiece(byte as u8))?;
		}
		let mut user_defined: Vec<TokenId> = (0..pieces.len() as TokenId)
			.filter(|id| types[*id as usize] == USER_DEFINED && !pieces[*id as usize].is_empty())
			.collect();
		user_defined.sort_by_key(|id| std::cmp::Reverse(pieces[*id as usize].len()));
		Ok(Self { pieces, scores, types, ids, user_defined, bytes, bos, eos })
	}

	/// Pieces in the vocabulary.
	pub fn len(&self) -> usize {
		self.pieces.len()
	}

	/// Whether the vocabulary is empty (it never is once built: it holds the byte pieces).
	pub fn is_empty(&self) -> bool {
		self.pieces.is_empty()
	}

	/// The piece of `id`, if it is one.
	pub fn piece(&self, id: TokenId) -> Option<&str> {
		self.pieces.get(id as usize).map(String::as_str)
	}

	/// Whether `id` is a control token (never produced from text, never printed).
	pub fn is_control(&self, id: TokenId) -> bool {
		self.types.get(id as usize) == Some(&CONTROL)
	}

	/// The tokens of `text`, after `<bos>` when `with_bos`.
	pub fn encode(&self, text: &str, with_bos: bool) -> Vec<TokenId> {
		let mut tokens = Vec::with_capacity(text.len() / 3 + 2);
		if with_bos {
			tokens.push(self.bos);
		}
		for fragment in self.split_user_defined(text) {
			match fragment {
				Fragment::Piece(id) => tokens.push(id),
				Fragment::Text(text) => self.encode_fragment(text, &mut tokens),
			}
		}
		tokens
	}

	/// The text of `tokens`: pieces joined, `▁` as spaces, byte pieces as bytes, control
	/// tokens left out; bytes that are not UTF-8 become U+FFFD.
	pub fn decode(&self, tokens: &[TokenId]) -> String {
		let mut bytes = Vec::new();
		for id in tokens {
			if self.is_control(*id) {
				continue;
			}
			let Some(piece) = self.piece(*id) else { continue };
			match byte_of_piece(piece) {
				Some(byte) if self.bytes[byte as usize] == *id => bytes.push(byte),
				_ => bytes.extend(piece.replace('\u{2581}', " ").as_bytes()),
			}
		}
		String::from_utf8_lossy(&bytes).into_owned()
	}

	/// `text` cut at every user-defined piece it contains, the longest pieces first.
	fn split_user_defined<'a>(&self, text: &'a str) -> Vec<Fragment<'a>> {
		let mut fragments = vec![Fragment::Text(text)];
		for id in &self.user_defined {
			let piece = self.pieces[*id as usize].as_str();
			let mut next = Vec::with_capacity(fragments.len());
			for fragment in fragments {
				let Fragment::Text(mut rest) = fragment else {
					next.push(fragment);
					continue;
				};
				while let Some(at) = rest.find(piece) {
					if at > 0 {
						next.push(Fragment::Text(&rest[..at]));
					}
					next.push(Fragment::Piece(*id));
					rest = &rest[at + piece.len()..];
				}
				if !rest.is_empty() {
					next.push(Fragment::Text(rest));
				}
			}
			fragments = next;
		}
		fragments
	}

	/// Encode a fragment without user-defined pieces by merging adjacent symbols.
	fn encode_fragment(&self, text: &str, tokens: &mut Vec<TokenId>) {
		let text = text.replace(' ', "\u{2581}");
		// Symbols as byte ranges of `text`, linked to their neighbours.
		let mut symbols: Vec<Symbol> = Vec::new();
		for (index, (start, character)) in text.char_indices().enumerate() {
			symbols.push(Symbol {
				start,
				len: character.len_utf8(),
				previous: index.checked_sub(1),
				next: Some(index + 1),
			});
		}
		if let Some(last) = symbols.last_mut() {
			last.next = None;
		}
		let mut queue = BinaryHeap::new();
		for left in 1..symbols.len() {
			self.offer(&text, &symbols, left - 1, left, &mut queue);
		}
		while let Some(Bigram { left, right, len, .. }) = queue.pop() {
			// Stale when either side was merged into something else since.
			if symbols[left].len == 0
				|| symbols[right].len == 0
				|| symbols[left].len + symbols[right].len != len
			{
				continue;
			}
			symbols[left].len += symbols[right].len;
			symbols[right].len = 0;
			symbols[left].next = symbols[right].next;
			if let Some(next) = symbols[right].next {
				symbols[next].previous = Some(left);
			}
			if let Some(previous) = symbols[left].previous {
				self.offer(&text, &symbols, previous, left, &mut queue);
			}
			if let Some(next) = symbols[left].next {
				self.offer(&text, &symbols, left, next, &mut queue);
			}
		}
		let mut at = if symbols.is_empty() { None } else { Some(0) };
		while let Some(index) = at {
			let symbol = &symbols[index];
			let spelled = &text[symbol.start..symbol.start + symbol.len];
			match self.ids.get(spelled) {
				Some(id) => tokens.push(*id),
				None => tokens.extend(spelled.bytes().map(|byte| self.bytes[byte as usize])),
			}
			at = symbol.next;
		}
	}

	/// Queue the merge of symbols `left` and `right` if together they spell a piece.
	fn offer(
		&self,
		text: &str,
		symbols: &[Symbol],
		left: usize,
		right: usize,
		queue: &mut BinaryHeap<Bigram>,
	) {
		let (start, len) = (symbols[left].start, symbols[left].len + symbols[right].len);
		if let Some(id) = self.ids.get(&text[start..start + len]) {
			queue.push(Bigram { score: self.scores[*id as usize], left, right, len });
		}
	}
}

/// A piece of text between user-defined pieces, or one of them.
enum Fragment<'a> {
	Text(&'a str),
	Piece(TokenId),
}

/// A run of characters being merged; `len` 0 once merged into its left neighbour.
struct Symbol {
	start: usize,
	len: usize,
	previous: Option<usize>,
	next: Option<usize>,
}

/// A candidate merge: ordered by score, then leftmost first.
struct Bigram {
	score: f32,
	left: usize,
	right: usize,
	/// The merged length when queued, to spot stale entries.
	len: usize,
}

impl PartialEq for Bigram {
	fn eq(&self, other: &Self) -> bool {
		self.cmp(other) == std::cmp::Ordering::Equal
	}
}

impl Eq for Bigram {}

impl PartialOrd for Bigram {
	fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
		Some(self.cmp(other))
	}
}

impl Ord for Bigram {
	fn cmp(&self, other: &Self) -> std::cmp::Ordering {
		self.score.total_cmp(&other.score).then_with(|| other.left.cmp(&self.left))
	}
}

/// The byte a `<0xXX>` piece stands for.
fn byte_of_piece(piece: &str) -> Option<u8> {
	let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
	(hex.len() == 2).then(|| u8::from_str_radix(hex, 16).ok()).flatten()
}

#[cfg(test)]
mod tests {
	use super::*;

	/// A vocabulary of the byte pieces, then `extra` with their scores and types.
	fn tokenizer(extra: &[(&str, f32, u64)]) -> Tokenizer {
		let mut pieces = vec!["<pad>".to_string(), "<eos>".into(), "<bos>".into()];
		let mut scores = vec![0.0; 3];
		let mut types = vec![CONTROL; 3];
		for byte in 0..=255u8 {
			pieces.push(format!("<0x{byte:02X}>"));
			scores.push(0.0);
			types.push(6);
		}
		for (piece, score, kind) in extra {
			pieces.push(piece.to_string());
			scores.push(*score);
			types.push(*kind);
		}
		Tokenizer::new(pieces, scores, types, 2, 1).unwrap()
	}

	fn pieces(tokenizer: &Tokenizer, text: &str) -> Vec<String> {
		tokenizer
			.encode(text, false)
			.into_iter()
			.map(|id| tokenizer.piece(id).unwrap().to_string())
			.collect()
	}

	#[test]
	fn the_highest_scoring_merge_goes_first() {
		let vocabulary =
			[("a", 0.0, 1), ("b", 0.0, 1), ("c", 0.0, 1), ("ab", -1.0, 1), ("bc", -0.5, 1)];
		// "bc" outscores "ab", and then "a" + "bc" spells no piece.
		assert_eq!(pieces(&tokenizer(&vocabulary), "abc"), ["a", "bc"]);
		// With "abc" a piece, the merges go on to it.
		let mut longer = vocabulary.to_vec();
		longer.push(("abc", -3.0, 1));
		assert_eq!(pieces(&tokenizer(&longer), "abc"), ["abc"]);
	}

	#[test]
	fn ties_merge_leftmost_first() {
		let t = tokenizer(&[("a", 0.0, 1), ("aa", -1.0, 1)]);
		assert_eq!(pieces(&t, "aaa"), ["aa", "a"]);
	}

	#[test]
	fn spaces_become_the_word_mark_and_unknown_characters_bytes() {
		let t = tokenizer(&[("\u{2581}", 0.0, 1), ("h", 0.0, 1), ("i", 0.0, 1), ("hi", -1.0, 1)]);
		assert_eq!(pieces(&t, "hi é"), ["hi", "\u{2581}", "<0xC3>", "<0xA9>"]);
		assert_eq!(t.decode(&t.encode("hi é", true)), "hi é");
	}

	#[test]
	fn user_defined_pieces_are_cut_out_and_control_ones_never_read() {
		let t = tokenizer(&[("<tag>", 0.0, USER_DEFINED), ("x", 0.0, 1)]);
		assert_eq!(pieces(&t, "x<tag>x"), ["x", "<tag>", "x"]);
		let forged = t.encode("<bos>", false);
		assert!(!forged.contains(&t.bos), "a prompt cannot forge <bos>: {forged:?}");
		assert_eq!(t.decode(&forged), "<bos>");
	}
}
