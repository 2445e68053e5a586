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

use crate::frames::check_regular_file;
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

/// Opens `path` for demuxing with the `file` protocol only and a demuxer from [`VIDEO_FORMATS`], and
/// reads its stream information. Errors are messages; the caller adds the file and span.
pub(crate) fn open_input(path: &Path) -> std::result::Result<ff::format::context::Input, String> {
    let url = file_url(path)?;
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
