//! What may be opened as a video: regular files only, read through FFmpeg's `file` protocol by demuxers
//! of container formats that hold video.
//!
//! FFmpeg would otherwise open whatever a path names: a FIFO blocks the reader forever, a device is
//! read until it ends, and a `.mp4` that is really an HLS playlist or an ffconcat script makes the
//! demuxer open other local files (or URLs) the playlist names.

use std::ffi::CString;
use std::path::Path;

use ff::ffi;
use ffmpeg_next as ff;

use crate::fsutil::check_regular_file;
use crate::{Error, Result};

/// Demuxers allowed to read a file: containers and elementary streams of video. Playlists (`hls`,
/// `dash`), scripts (`concat`), image sequences (`image2`), network and device inputs are left out.
pub const VIDEO_FORMATS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,mpegvideo,\
ogg,asf,nut,mxf,dv,gif,h261,h263,h264,hevc,m4v,ivf,obu,mjpeg,rawvideo,yuv4mpegpipe,wtv,rm,vc1,cavsvideo,\
avs2,avs3,bink,smk,flic,nuv,roq,vivo,thp,film_cpk,4xm,ea,str,idcin,ipmovie,mvi,vmd,wsvqa,xmv,dirac";

/// Refuses a path that is not a regular file (after following links) before anything opens it, with
/// an error naming the path and what it is ("is a FIFO, not a video file"). Every command and the
/// score job go through this before FFmpeg sees a path.
pub fn check_video_path(path: &Path) -> Result<()> {
    check_regular_file(path, "a video file").map_err(|msg| Error::Decode {
        path: path.to_path_buf(),
        span: "whole file".into(),
        msg,
    })
}

/// The `file:` URL of a path, byte for byte (paths need not be UTF-8, and a `:` in a name must not
/// select a protocol).
fn file_url(path: &Path) -> std::result::Result<CString, String> {
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    let mut url = b"file:".to_vec();
    url.extend_from_slice(&bytes);
    CString::new(url).map_err(|_| "the path holds a NUL byte".to_string())
}

/// The URL FFmpeg opens for a file this process opened itself: on Linux `file:/proc/self/fd/N`, whose
/// open reaches the very inode behind the descriptor (known to be a regular file), whatever the path
/// names by then; elsewhere the path (checked on the descriptor just before).
fn descriptor_url(file: &std::fs::File, path: &Path) -> std::result::Result<CString, String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        static PROC_FD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *PROC_FD.get_or_init(|| Path::new("/proc/self/fd").is_dir()) {
            let url = format!("file:/proc/self/fd/{}", file.as_raw_fd());
            return CString::new(url).map_err(|_| "the path holds a NUL byte".to_string());
        }
    }
    let _ = file;
    file_url(path)
}

/// A test's action between this process's open of a file and FFmpeg's.
#[cfg(test)]
type Hook = Box<dyn FnOnce(&Path)>;

#[cfg(test)]
thread_local! {
    /// Test hook: runs between this process's open of the file and FFmpeg's.
    static BEFORE_FFMPEG_OPEN: std::cell::RefCell<Option<Hook>> = std::cell::RefCell::new(None);
}

/// Opens `path` for demuxing with the `file` protocol only and a demuxer from [`VIDEO_FORMATS`], and
/// reads its stream information. The file is opened here first ([`crate::fsutil::open_regular`]:
/// one non-blocking open, checked with `fstat`) and FFmpeg reads that descriptor's file, so a path
/// replaced by a FIFO after the check can neither block nor be read. Errors are messages; the caller
/// adds the file and span.
pub(crate) fn open_input(path: &Path) -> std::result::Result<ff::format::context::Input, String> {
    let file = crate::fsutil::open_regular(path, "a video file").map_err(|e| e.message())?;
    #[cfg(test)]
    if let Some(hook) = BEFORE_FFMPEG_OPEN.with(|h| h.borrow_mut().take()) {
        hook(path);
    }
    let url = descriptor_url(&file, path)?;
    let mut opts = ff::Dictionary::new();
    opts.set("protocol_whitelist", "file");
    opts.set("format_whitelist", VIDEO_FORMATS);
    let mut ps = std::ptr::null_mut();
    // SAFETY: `url` is NUL-terminated; `dict` is an owned AVDictionary that FFmpeg may replace and that
    // is freed below; on failure `ps` is freed by FFmpeg and left null.
    let r = unsafe {
        let mut dict = opts.disown();
        let r = ffi::avformat_open_input(&mut ps, url.as_ptr(), std::ptr::null(), &mut dict);
        // Whatever options were left (unused ones) are freed here.
        ffi::av_dict_free(&mut dict);
        r
    };
    // FFmpeg holds its own descriptor of the same file from here on.
    drop(file);
    if r < 0 {
        return Err(format!(
            "cannot open as a video ({}); is it a complete mp4/webm/mkv file? (only video \
             containers are read: playlists, scripts and image sequences are refused)",
            ff::Error::from(r)
        ));
    }
    // Probing decodes a frame of each stream: FFmpeg's `max_pixels` keeps it from allocating a frame
    // over the bound. A refused probe leaves the stream's size at 0, so the size the container's
    // header declared is put back afterwards, for `decode_clips` to refuse the file with a message.
    // SAFETY: `ps` is a freshly opened context; one dictionary per stream, each freed after the call;
    // the streams' codec parameters are plain fields of streams the context owns.
    let r = unsafe {
        let n = (*ps).nb_streams as usize;
        let par = |i: usize| (*(*(*ps).streams.add(i))).codecpar;
        let declared: Vec<(i32, i32)> = (0..n)
            .map(|i| ((*par(i)).width, (*par(i)).height))
            .collect();
        let mut dicts: Vec<*mut ffi::AVDictionary> = vec![std::ptr::null_mut(); n.max(1)];
        let max = CString::new(crate::limits::MAX_FRAME_PIXELS.to_string()).unwrap_or_default();
        for d in dicts.iter_mut().take(n) {
            ffi::av_dict_set(d, c"max_pixels".as_ptr(), max.as_ptr(), 0);
        }
        let r = ffi::avformat_find_stream_info(ps, dicts.as_mut_ptr());
        for d in &mut dicts {
            ffi::av_dict_free(d);
        }
        for (i, &(w, h)) in declared.iter().enumerate().take((*ps).nb_streams as usize) {
            let p = par(i);
            if (*p).width == 0 && (*p).height == 0 {
                ((*p).width, (*p).height) = (w, h);
            }
        }
        r
    };
    if r < 0 {
        // SAFETY: closes and nulls the context opened above.
        unsafe { ffi::avformat_close_input(&mut ps) };
        return Err(format!(
            "cannot read the stream information ({})",
            ff::Error::from(r)
        ));
    }
    // SAFETY: an opened input context, owned from here by the wrapper (closed on drop).
    Ok(unsafe { ff::format::context::Input::wrap(ps) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A path replaced by a FIFO between this process's open and FFmpeg's: FFmpeg still reads the
    /// regular file that was opened. Were FFmpeg to open the path, it would read the FIFO, whose
    /// writer (below) closes it empty, and fail to find a video.
    #[cfg(target_os = "linux")]
    #[test]
    fn ffmpeg_reads_the_descriptor_not_the_path() {
        let dir = std::env::temp_dir().join(format!("viclip-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let video = dir.join("clip.mp4");
        let ok = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x48:rate=10",
            ])
            .args(["-t", "1", "-pix_fmt", "yuv420p"])
            .arg(&video)
            .status()
            .unwrap();
        assert!(ok.success());
        let moved = dir.join("moved.mp4");
        let writer = std::sync::Arc::new(std::sync::Mutex::new(None));
        let w = writer.clone();
        let m = moved.clone();
        BEFORE_FFMPEG_OPEN.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |p: &Path| {
                std::fs::rename(p, &m).unwrap();
                let c = CString::new(p.to_str().unwrap()).unwrap();
                // SAFETY: a NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
                let fifo = p.to_path_buf();
                // A writer that closes the FIFO empty as soon as a reader opens it.
                *w.lock().unwrap() = Some(std::thread::spawn(move || {
                    drop(std::fs::OpenOptions::new().write(true).open(fifo));
                }));
            }));
        });
        let input = open_input(&video).unwrap();
        let stream = input.streams().best(ff::media::Type::Video).unwrap();
        // SAFETY: the stream's codec parameters live as long as `input`.
        let (w, h) = unsafe {
            (
                (*stream.parameters().as_ptr()).width,
                (*stream.parameters().as_ptr()).height,
            )
        };
        assert_eq!((w, h), (64, 48));
        // Release the writer, which still waits for a reader of the FIFO.
        use std::os::unix::fs::OpenOptionsExt;
        let _r = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&video)
            .unwrap();
        if let Some(t) = writer.lock().unwrap().take() {
            t.join().unwrap();
        }
        drop(input);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
