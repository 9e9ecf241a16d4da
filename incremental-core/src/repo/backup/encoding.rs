//! How each stored piece is encoded: one whole file in the codec module's format (compressed
//! frames, then age), as [`manifest::Encoding`](super::super::manifest::Encoding) records.

use std::path::Path;
use std::sync::Arc;

use crate::codec::compress::Pool;
use crate::codec::encode::Encoder;
use crate::codec::names::stays_plain;
use crate::codec::CodecOptions;

use super::super::manifest::Encoding;

/// Encodes pieces (shared by the sink and the upload threads).
pub(crate) struct Codec {
    options: CodecOptions,
    pool: Option<Arc<Pool>>,
}

impl Codec {
    /// Starts the compression threads `options` ask for.
    pub(crate) fn new(options: &CodecOptions) -> std::io::Result<Codec> {
        let pool = match options.compression() {
            Some(c) => Some(Arc::new(Pool::start(
                c,
                options.level(),
                options.threads(),
            )?)),
            None => None,
        };
        Ok(Codec {
            options: options.clone(),
            pool,
        })
    }

    /// What the manifest records of the encoding.
    pub(crate) fn record(&self) -> Encoding {
        encoding_of(&self.options)
    }

    /// Whether the stored bytes of the same plain bytes differ from run to run (age picks a
    /// new file key each time).
    pub(crate) fn encrypts(&self) -> bool {
        self.options.keys().is_some()
    }

    /// An encoder of a whole file or a whole part of the file `path` into memory, sized for
    /// `plain` plain bytes (the buffer is allocated once: [`stored_bound`]). Plain when nothing
    /// encodes or the file stays plain ([`stays_plain`]).
    pub(crate) fn encoder(&self, path: &str, plain: usize) -> std::io::Result<Encoder<Vec<u8>>> {
        let out = Vec::with_capacity(stored_bound(plain));
        if !self.options.encodes() || stays_plain(Path::new(path)) {
            return Encoder::new(out, None, self.options.piece_size(), None);
        }
        Encoder::new(
            out,
            self.pool.as_ref(),
            self.options.piece_size(),
            self.options.keys(),
        )
    }
}

/// The most bytes `plain` plain bytes take encoded, but for pathological input: zstd and LZ4
/// add a few bytes per block to what does not compress, age 16 bytes per 64 KiB and a header
/// of a few hundred bytes; xb's frames 44 bytes.
pub(crate) fn stored_bound(plain: usize) -> usize {
    plain + plain / 64 + (16 << 10)
}

/// The manifest's record of the encoding `options` ask for.
pub(crate) fn encoding_of(options: &CodecOptions) -> Encoding {
    Encoding {
        compression: options.compression().map(|c| c.name().to_string()),
        level: if options.compression().is_some() {
            options.level()
        } else {
            0
        },
        recipients: options.keys().map(|k| k.recipients()).unwrap_or_default(),
    }
}
