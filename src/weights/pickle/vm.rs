//! The pickle machine itself: opcodes in, an arena of [`Object`]s out. See the parent module for the design.

use std::collections::HashMap;

use super::{Id, Object};

/// Runs the pickle in `data`; returns the arena and the id of the object that STOP returned.
pub(super) fn run(data: &[u8]) -> Result<(Vec<Object>, Id), String> {
    let mut vm = Vm {
        data,
        pos: 0,
        objects: vec![Object::None, Object::Bool(true), Object::Bool(false)],
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let root = vm.run()?;
    Ok((vm.objects, root))
}

/// Most objects, stack entries (with marks) or memo entries a pickle may create. Real checkpoints need well under a
/// million even with optimizer state; the cap keeps a corrupt or hostile data.pkl from using many GB.
const MAX_ITEMS: usize = 10_000_000;

// Preallocated constants, so NONE/NEWTRUE/NEWFALSE do not grow the arena.
const NONE: Id = 0;
const TRUE: Id = 1;
const FALSE: Id = 2;

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    objects: Vec<Object>,
    stack: Vec<Id>,
    /// Stack lengths at each MARK (Python's metastack).
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
}

impl Vm<'_> {
    fn run(&mut self) -> Result<Id, String> {
        loop {
            let at = self.pos;
            let (objects, stack) = (self.objects.len(), self.stack.len() + self.marks.len());
            let items = objects.max(stack).max(self.memo.len());
            if items > MAX_ITEMS {
                return Err(format!(
                    "pickle holds more than {MAX_ITEMS} objects; not a checkpoint pickle"
                ));
            }
            let op = self.take(1)?[0];
            self.step(op)
                .map_err(|e| format!("{e} (opcode 0x{op:02x} at byte {at})"))?;
            if op == b'.' {
                return self.pop();
            }
        }
    }

    fn step(&mut self, op: u8) -> Result<(), String> {
        match op {
            0x80 => {
                let proto = self.take(1)?[0];
                if proto > 5 {
                    return Err(format!(
                        "pickle protocol {proto} is newer than 5, the newest known"
                    ));
                }
            }
            0x95 => drop(self.take(8)?), // FRAME: only a read-ahead hint
            b'.' => {}                   // STOP: handled by `run`
            b'(' => self.marks.push(self.stack.len()),
            // POP: Python pops the mark instead when the stack above it is empty.
            b'0' if self.marks.last() == Some(&self.stack.len()) => drop(self.marks.pop()),
            b'0' => drop(self.pop()?),
            b'1' => drop(self.pop_mark()?),
            b'2' => self.stack.push(self.top()?),
            b'N' => self.stack.push(NONE),
            0x88 => self.stack.push(TRUE),
            0x89 => self.stack.push(FALSE),
            b'I' => {
                let line = self.line()?;
                let obj = match line {
                    "00" => Object::Bool(false),
                    "01" => Object::Bool(true),
                    _ => Object::Int(line.parse().map_err(|_| format!("bad INT {line:?}"))?),
                };
                self.push(obj);
            }
            b'J' => {
                let v = i32::from_le_bytes(self.array()?);
                self.push(Object::Int(v.into()));
            }
            b'K' | b'M' => {
                let v = self.arg(op)?;
                self.push(Object::Int(v as i64)); // at most 0xffff
            }
            b'L' => {
                let line = self.line()?;
                let digits = line.strip_suffix('L').unwrap_or(line);
                let obj = digits.parse().map(Object::Int).unwrap_or(Object::BigInt);
                self.push(obj);
            }
            0x8a | 0x8b => {
                let n = self.arg(op)?;
                let obj = long_from_le(self.take(n)?);
                self.push(obj);
            }
            b'F' => {
                let line = self.line()?;
                let v = line.parse().map_err(|_| format!("bad FLOAT {line:?}"))?;
                self.push(Object::Float(v));
            }
            b'G' => {
                let v = f64::from_be_bytes(self.array()?);
                self.push(Object::Float(v));
            }
            b'S' | b'V' => {
                // Protocol-0 strings; escapes are left as they are (torch never writes these).
                let s = self
                    .line()?
                    .trim_matches(|c| c == '\'' || c == '"')
                    .to_string();
                self.push(Object::Str(s));
            }
            b'T' | b'X' | b'U' | 0x8c | 0x8d => {
                let n = self.arg(op)?;
                let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                self.push(Object::Str(s));
            }
            b'B' | b'C' | 0x8e | 0x96 => {
                let n = self.arg(op)?;
                self.take(n)?;
                self.push(Object::Bytes(n));
            }
            0x97 => {
                return Err(
                    "out-of-band buffers (pickle 5 buffer_callback) are not supported".into(),
                )
            }
            0x98 => {} // READONLY_BUFFER: a flag on the buffer on top of the stack
            b'}' => self.push(Object::Dict(Vec::new())),
            b']' => self.push(Object::List(Vec::new())),
            b')' => self.push(Object::Tuple(Vec::new())),
            0x8f => self.push(Object::Set(Vec::new())),
            b'd' => {
                let items = pairs(self.pop_mark()?)?;
                self.push(Object::Dict(items));
            }
            b'l' => {
                let items = self.pop_mark()?;
                self.push(Object::List(items));
            }
            b't' => {
                let items = self.pop_mark()?;
                self.push(Object::Tuple(items));
            }
            0x91 => {
                let items = self.pop_mark()?;
                self.push(Object::Set(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let floor = self.marks.last().copied().unwrap_or(0);
                let split = self.stack.len().checked_sub(n).filter(|&s| s >= floor);
                let items = self.stack.split_off(split.ok_or("stack underflow")?);
                self.push(Object::Tuple(items));
            }
            b'a' => {
                let v = self.pop()?;
                self.extend_list(vec![v])?;
            }
            b'e' | 0x90 => {
                let items = self.pop_mark()?;
                self.extend_list(items)?;
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.extend_dict(vec![(k, v)])?;
            }
            b'u' => {
                let items = pairs(self.pop_mark()?)?;
                self.extend_dict(items)?;
            }
            b'c' | b'i' => {
                let module = self.line()?.to_string();
                let name = self.line()?.to_string();
                let global = self.new_obj(Object::Global { module, name });
                if op == b'c' {
                    self.stack.push(global);
                } else {
                    let args = self.pop_mark()?;
                    let args = self.new_obj(Object::Tuple(args));
                    self.push_call(global, args);
                }
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Object::Str(m), Object::Str(n)) = (&self.objects[module], &self.objects[name])
                else {
                    return Err("STACK_GLOBAL needs two strings".into());
                };
                let (module, name) = (m.clone(), n.clone());
                self.push(Object::Global { module, name });
            }
            b'o' => {
                let mut items = self.pop_mark()?.into_iter();
                let cls = items.next().ok_or("OBJ without a class")?;
                let args = self.new_obj(Object::Tuple(items.collect()));
                self.push_call(cls, args);
            }
            b'R' | 0x81 | 0x92 => {
                if op == 0x92 {
                    self.pop()?; // NEWOBJ_EX kwargs
                }
                let args = self.pop()?;
                let callable = self.pop()?;
                self.push_call(callable, args);
            }
            b'b' => {
                let new_state = self.pop()?;
                let top = self.top()?;
                // BUILD on anything but an object (e.g. a dict) has no meaning we need; it is ignored.
                if let Object::Call { state, .. } = &mut self.objects[top] {
                    *state = Some(new_state);
                }
            }
            b'p' | b'g' => {
                let idx = self.line()?.parse().map_err(|_| "bad memo index")?;
                self.memo(op == b'p', idx)?;
            }
            b'q' | b'r' | b'h' | b'j' => {
                let idx = self.arg(op)? as u64;
                self.memo(op == b'q' || op == b'r', idx)?;
            }
            0x94 => self.memo(true, self.memo.len() as u64)?,
            b'P' => {
                let pid = self.line()?.to_string();
                let pid = self.new_obj(Object::Str(pid));
                self.push(Object::PersId(pid));
            }
            b'Q' => {
                let pid = self.pop()?;
                self.push(Object::PersId(pid));
            }
            0x82..=0x84 => {
                // copyreg extension codes: kept opaque like any other global.
                let code = self.arg(op)?.to_string();
                let module = "copyreg.extension".to_string();
                self.push(Object::Global { module, name: code });
            }
            _ => {
                return Err(format!(
                    "unknown opcode 0x{op:02x}; the data is corrupt or not a pickle"
                ))
            }
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| {
            format!(
                "pickle truncated: needs {n} more bytes at byte {}",
                self.pos
            )
        })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// The little-endian unsigned length, index or integer argument of `op`, by the opcode's width.
    fn arg(&mut self, op: u8) -> Result<usize, String> {
        let width = match op {
            b'K' | b'U' | b'C' | b'q' | b'h' | 0x8a | 0x8c | 0x82 => 1,
            b'M' | 0x83 => 2,
            0x8d | 0x8e | 0x96 => 8,
            _ => 4,
        };
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(self.take(width)?);
        let n = u64::from_le_bytes(buf);
        usize::try_from(n).map_err(|_| format!("length {n} does not fit in memory"))
    }

    /// A newline-terminated text argument (protocol 0 opcodes and GLOBAL).
    fn line(&mut self) -> Result<&str, String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("pickle truncated inside a text line")?;
        self.pos += n + 1;
        std::str::from_utf8(&rest[..n]).map_err(|_| "text line is not UTF-8".into())
    }

    fn new_obj(&mut self, obj: Object) -> Id {
        self.objects.push(obj);
        self.objects.len() - 1
    }

    fn push(&mut self, obj: Object) {
        let id = self.new_obj(obj);
        self.stack.push(id);
    }

    fn push_call(&mut self, callable: Id, args: Id) {
        let call = Object::Call {
            callable,
            args,
            state: None,
            items: Vec::new(),
            list: Vec::new(),
        };
        self.push(call);
    }

    fn pop(&mut self) -> Result<Id, String> {
        // Values below the innermost mark belong to an outer frame; taking one means the pickle is broken.
        if self.marks.last() == Some(&self.stack.len()) {
            return Err("stack underflow at a MARK".into());
        }
        self.stack.pop().ok_or_else(|| "stack underflow".into())
    }

    fn top(&self) -> Result<Id, String> {
        if self.marks.last() == Some(&self.stack.len()) {
            return Err("stack underflow at a MARK".into());
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| "stack underflow".into())
    }

    fn pop_mark(&mut self) -> Result<Vec<Id>, String> {
        let mark = self.marks.pop().ok_or("MARK missing")?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn extend_list(&mut self, items: Vec<Id>) -> Result<(), String> {
        let top = self.top()?;
        match &mut self.objects[top] {
            Object::List(v) | Object::Set(v) | Object::Call { list: v, .. } => v.extend(items),
            _ => return Err("APPEND(S) to something that is not a list".into()),
        }
        Ok(())
    }

    fn extend_dict(&mut self, items: Vec<(Id, Id)>) -> Result<(), String> {
        let top = self.top()?;
        match &mut self.objects[top] {
            Object::Dict(v) | Object::Call { items: v, .. } => v.extend(items),
            _ => return Err("SETITEM(S) on something that is not a dict".into()),
        }
        Ok(())
    }

    /// Memo store (`put`) of the top of the stack, or fetch onto the stack.
    fn memo(&mut self, put: bool, idx: u64) -> Result<(), String> {
        if put {
            let top = self.top()?;
            self.memo.insert(idx, top);
        } else {
            let id = self
                .memo
                .get(&idx)
                .ok_or_else(|| format!("memo entry {idx} was never stored"))?;
            self.stack.push(*id);
        }
        Ok(())
    }
}

/// Pairs up `k1, v1, k2, v2, ...` from a MARK frame.
fn pairs(flat: Vec<Id>) -> Result<Vec<(Id, Id)>, String> {
    if flat.len() % 2 != 0 {
        return Err("odd number of stack items for a dict".into());
    }
    Ok(flat.chunks_exact(2).map(|c| (c[0], c[1])).collect())
}

/// LONG1/LONG4 payload: little-endian two's complement.
fn long_from_le(bytes: &[u8]) -> Object {
    if bytes.len() > 8 {
        return Object::BigInt;
    }
    let fill = if bytes.last().is_some_and(|&b| b & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut buf = [fill; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    Object::Int(i64::from_le_bytes(buf))
}
