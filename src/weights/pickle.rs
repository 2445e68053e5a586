//! A small, non-executing pickle virtual machine for reading `torch.save` checkpoints.
//!
//! It understands every opcode of pickle protocols 0 to 5 except out-of-band buffers, but it never imports
//! or calls anything: a global is just its `(module, name)`, and `REDUCE`/`NEWOBJ` build an opaque
//! [`Object::Call`] that records the callable, its arguments, any `BUILD` state and any items that
//! `SETITEMS`/`APPENDS` add to it (dict and list subclasses such as `EasyDict` or `OrderedDict`). That is
//! what lets a training checkpoint's optimizer state and pickled config ride along and be ignored; the torch
//! layer in `pth.rs` gives meaning to the few calls it knows (`_rebuild_tensor_v2`, `OrderedDict`, ...).
//!
//! All objects live in one arena and refer to each other by index, so the memo can share mutable objects
//! the way Python does (a dict memoized before its items arrive is the same dict when fetched later),
//! cycles cannot leak, and dropping a deeply nested structure cannot overflow the stack. Every length read
//! from the data is checked against the bytes that remain before anything is allocated, and each opcode
//! adds at most one object, so memory stays proportional to the size of the pickle.

mod vm;

/// Index of an object in [`Pickle::objects`].
pub type Id = usize;

/// One unpickled value. Containers hold [`Id`]s into the arena.
#[derive(Debug, Clone)]
pub enum Object {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit in `i64` (its value is not needed for anything torch stores).
    BigInt,
    Float(f64),
    /// A text string (also Python 2 byte strings, decoded as UTF-8, lossily).
    Str(String),
    /// A bytes object of this length (the content is skipped; nothing in a state dict needs it).
    Bytes(usize),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    /// A plain dict, items in insertion order (duplicates are kept; readers take the last value).
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    /// A reference to `module.name`, never resolved.
    Global {
        module: String,
        name: String,
    },
    /// `callable(*args)` from REDUCE, NEWOBJ, NEWOBJ_EX, INST or OBJ, with what later opcodes did to it.
    Call {
        callable: Id,
        /// Usually a tuple.
        args: Id,
        /// The argument of BUILD (`__setstate__` or `__dict__` update), if any.
        state: Option<Id>,
        /// Items added by SETITEM(S): the object is a dict subclass.
        items: Vec<(Id, Id)>,
        /// Elements added by APPEND(S): the object is a list subclass.
        list: Vec<Id>,
    },
    /// A persistent id (BINPERSID/PERSID); torch stores its storage references this way.
    PersId(Id),
}

/// The result of running a pickle: the arena and the id of the top-level object.
#[derive(Debug)]
pub struct Pickle {
    pub objects: Vec<Object>,
    pub root: Id,
}

impl Pickle {
    /// The object with this id. Ids handed out by [`parse`] and by container objects are always valid.
    pub fn get(&self, id: Id) -> &Object {
        &self.objects[id]
    }

    /// The string value, if this is a string.
    pub fn as_str(&self, id: Id) -> Option<&str> {
        match self.get(id) {
            Object::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer value, if this is an `i64`-sized integer (bools count, as in Python).
    pub fn as_int(&self, id: Id) -> Option<i64> {
        match self.get(id) {
            Object::Int(v) => Some(*v),
            Object::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The elements of a tuple or list.
    pub fn as_seq(&self, id: Id) -> Option<&[Id]> {
        match self.get(id) {
            Object::Tuple(v) | Object::List(v) => Some(v),
            _ => None,
        }
    }

    /// `(module, name)` if this is a global.
    pub fn as_global(&self, id: Id) -> Option<(&str, &str)> {
        match self.get(id) {
            Object::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }

    /// `(module, name, args)` if this is a call of a global.
    pub fn as_call(&self, id: Id) -> Option<(&str, &str, Id)> {
        match self.get(id) {
            Object::Call { callable, args, .. } => {
                self.as_global(*callable).map(|(m, n)| (m, n, *args))
            }
            _ => None,
        }
    }

    /// The items of a mapping, in insertion order: a dict, or a call that received SETITEM(S) (a dict
    /// subclass such as `OrderedDict` or `EasyDict`), plus for `collections.OrderedDict` the pairs passed as
    /// its constructor argument (Python 2 pickled `OrderedDict([[k, v], ...])`). BUILD state is not an
    /// item: for an `OrderedDict` it holds instance attributes such as a state dict's `_metadata`.
    pub fn dict_items(&self, id: Id) -> Option<Vec<(Id, Id)>> {
        match self.get(id) {
            Object::Dict(items) => Some(items.clone()),
            Object::Call {
                callable,
                args,
                items,
                ..
            } => {
                let ordered = self.as_global(*callable) == Some(("collections", "OrderedDict"));
                if !ordered && items.is_empty() {
                    return None;
                }
                let mut out = Vec::new();
                if ordered {
                    let pairs = self
                        .as_seq(*args)
                        .and_then(|a| a.first())
                        .and_then(|p| self.as_seq(*p));
                    for pair in pairs.unwrap_or(&[]) {
                        if let Some(&[k, v]) = self.as_seq(*pair) {
                            out.push((k, v));
                        }
                    }
                }
                out.extend_from_slice(items);
                Some(out)
            }
            _ => None,
        }
    }

    /// A short description for error messages ("a dict", "an int (3)", "an easydict.EasyDict object").
    pub fn describe(&self, id: Id) -> String {
        match self.get(id) {
            Object::None => "None".into(),
            Object::Bool(b) => format!("a bool ({})", if *b { "True" } else { "False" }),
            Object::Int(v) => format!("an int ({v})"),
            Object::BigInt => "a big int".into(),
            Object::Float(v) => format!("a float ({v})"),
            Object::Str(s) => format!("a string ({s:?})"),
            Object::Bytes(n) => format!("a bytes object of {n} bytes"),
            Object::Tuple(v) => format!("a tuple of {} elements", v.len()),
            Object::List(v) => format!("a list of {} elements", v.len()),
            Object::Dict(v) => format!("a dict of {} items", v.len()),
            Object::Set(v) => format!("a set of {} elements", v.len()),
            Object::Global { module, name } => format!("the global {module}.{name}"),
            Object::Call { callable, .. } => match self.as_global(*callable) {
                Some(("torch._utils", n)) if n.starts_with("_rebuild_") => "a tensor".into(),
                Some((m, n)) => format!("a {m}.{n} object"),
                None => "an object of an unknown class".into(),
            },
            Object::PersId(_) => "a persistent id".into(),
        }
    }

    /// A key for listings in error messages: strings as they are, anything else described.
    pub fn key_repr(&self, id: Id) -> String {
        match self.get(id) {
            Object::Str(s) => format!("'{s}'"),
            Object::Int(v) => v.to_string(),
            _ => self.describe(id),
        }
    }
}

/// Runs the pickle in `data` and returns its objects. Errors name the byte offset and opcode.
pub fn parse(data: &[u8]) -> Result<Pickle, String> {
    let (objects, root) = vm::run(data)?;
    Ok(Pickle { objects, root })
}
