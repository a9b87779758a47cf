//! The plain-HTTP transport: one I/O thread per listener runs every connection as a task on a
//! smol executor over non-blocking sockets, so that a slow or silent client costs a small task
//! and never a thread; a fixed pool of worker threads runs the (blocking) handlers on complete
//! requests only, fed by a bounded queue. Every limit is here: head and body bytes (`wire`),
//! a deadline for each request and for idle keep-alive, a write deadline, and the connection
//! caps (`gate`). Accept errors from exhausted resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) back
//! off and keep accepting; if the listener thread ends anyway, the process exits with status 1
//! so that procd restarts it.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rouille::{Request, Response};
use smol::channel::{Receiver, Sender};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, LocalExecutor, Timer};

use crate::web::gate::{Gate, Pass};
use crate::web::wire::{self, Framing, Refusal, Reply, MAX_HEAD};

/// A handler, as the transport calls it (security headers already added).
pub(crate) type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// The transport's limits. `Default` is what lango serves with; tests shorten the timeouts.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body (the handlers' `MAX_BODY`).
    pub max_body: usize,
    /// A request's head and body must arrive within this once its first byte has.
    pub request_timeout: Duration,
    /// A new connection's first request must start within this; so must the next request on a
    /// kept-alive connection.
    pub idle_timeout: Duration,
    /// A response must be taken by the client within this.
    pub write_timeout: Duration,
    /// Open connections in all (a phone opens about six).
    pub max_connections: usize,
    /// Open connections from one source address.
    pub max_per_source: usize,
    /// Threads that run handlers.
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: crate::web::http::MAX_BODY as usize,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            // Far below procd's nofile of 4096 and below the common default of 1024.
            max_connections: 512,
            max_per_source: 16,
            workers: 4,
        }
    }
}

/// Exit status when a listener ends: `daemon::EXIT_RUNTIME`.
const EXIT_LISTENER_ENDED: i32 = 1;

/// Back-off after an accept error from exhausted resources.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A refused request's connection is read and discarded for at most this long, and this many
/// bytes, so that the client sees the refusal instead of a reset.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

/// Serves `handler` on `listener`: starts the workers and the I/O thread.
pub(crate) fn spawn(
    listener: TcpListener,
    limits: Limits,
    handler: Handler,
) -> Result<std::thread::JoinHandle<()>, String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let jobs = start_workers(addr.port(), limits.workers, handler)?;
    let listener = Async::new(listener).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    std::thread::Builder::new()
        .name(format!("lango-http-{}", addr.port()))
        .spawn(move || {
            let _exit = ExitWhenEnded(addr);
            let executor = Rc::new(LocalExecutor::new());
            let gate = Gate::new(limits.max_connections, limits.max_per_source);
            let limits = Rc::new(limits);
            let run = accept_loop(executor.clone(), listener, gate, limits, jobs);
            smol::block_on(executor.run(run));
        })
        .map_err(|e| format!("cannot start HTTP thread: {e}"))
}

/// Ends the process when the listener thread ends (returns or unwinds): a lango that no longer
/// answers guests must be restarted by procd, not live on without its portal.
pub(crate) struct ExitWhenEnded(pub(crate) SocketAddr);

impl Drop for ExitWhenEnded {
    fn drop(&mut self) {
        log::error!("the listener on {} ended: exiting", self.0);
        std::process::exit(EXIT_LISTENER_ENDED);
    }
}

/// A complete request for a worker, and where its response bytes go.
struct Job {
    request: Request,
    reply: Reply,
    done: Sender<Vec<u8>>,
}

fn start_workers(port: u16, workers: usize, handler: Handler) -> Result<Sender<Job>, String> {
    let workers = workers.max(1);
    let (jobs, queue) = smol::channel::bounded::<Job>(workers * 16);
    for n in 0..workers {
        let (queue, handler) = (queue.clone(), handler.clone());
        std::thread::Builder::new()
            .name(format!("lango-http-{port}-{n}"))
            .spawn(move || work(&queue, &handler))
            .map_err(|e| format!("cannot start HTTP worker: {e}"))?;
    }
    Ok(jobs)
}

/// How many times an idle worker yields, looking for the next job, before it parks: under load
/// the next request comes within microseconds, and parking and waking a thread (and the
/// workers' contention on the queue's wait list) cost more than the handler.
const YIELDS_BEFORE_PARKING: usize = 32;

fn next_job(queue: &Receiver<Job>) -> Option<Job> {
    for _ in 0..YIELDS_BEFORE_PARKING {
        match queue.try_recv() {
            Ok(job) => return Some(job),
            Err(smol::channel::TryRecvError::Closed) => return None,
            Err(smol::channel::TryRecvError::Empty) => std::thread::yield_now(),
        }
    }
    queue.recv_blocking().ok()
}

fn work(queue: &Receiver<Job>, handler: &Handler) {
    while let Some(job) = next_job(queue) {
        // A handler's panic is a 500 for that request (debug builds and tests; release builds
        // abort, and procd restarts lango).
        let response =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&job.request)))
                .unwrap_or_else(|_| Response::text("internal error").with_status_code(500));
        // The connection may be gone already; its response is then dropped.
        let _ = job.done.send_blocking(wire::encode(response, job.reply));
    }
}

async fn accept_loop(
    executor: Rc<LocalExecutor<'_>>,
    listener: Async<TcpListener>,
    gate: Arc<Gate>,
    limits: Rc<Limits>,
    jobs: Sender<Job>,
) {
    let mut warned: Option<Instant> = None;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if exhausted(&e) => {
                if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    log::warn!("http: cannot accept ({e}): backing off, closing idle connections");
                    warned = Some(Instant::now());
                }
                gate.evict_oldest();
                Timer::after(ACCEPT_BACKOFF).await;
                continue;
            }
            Err(e) => {
                log::debug!("http: accept: {e}");
                continue;
            }
        };
        // Each response goes out in one write; no delay waiting for an ACK.
        let _ = stream.get_ref().set_nodelay(true);
        let (evict, evicted) = smol::channel::bounded::<()>(1);
        let evict = Box::new(move || {
            let _ = evict.try_send(());
        });
        let Some(pass) = gate.enter(peer.ip(), evict) else {
            refuse_busy(stream.get_ref());
            continue;
        };
        let (limits, jobs) = (limits.clone(), jobs.clone());
        executor
            .spawn(async move {
                let conn = connection(&stream, peer, &pass, &limits, &jobs);
                smol::future::or(conn, async {
                    let _ = evicted.recv().await;
                })
                .await;
            })
            .detach();
    }
}

/// Whether an accept error means lango is out of something that closing connections frees.
pub(crate) fn exhausted(e: &io::Error) -> bool {
    use nix::errno::Errno;
    let errno = e.raw_os_error().map(Errno::from_raw);
    matches!(
        errno,
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
    )
}

/// One 503 for a connection over the caps, without waiting for anything: the socket is
/// non-blocking and a short response fits its send buffer.
fn refuse_busy(stream: &TcpStream) {
    let bytes = refusal_bytes(Refusal::Busy, false);
    let _ = io::Write::write(&mut &*stream, &bytes);
}

fn refusal_bytes(refusal: Refusal, http10: bool) -> Vec<u8> {
    let reply = Reply {
        head_only: false,
        close: true,
        http10,
    };
    wire::encode(crate::web::http::with_headers(refusal.response()), reply)
}

/// Why a connection ends.
enum End {
    /// The client closed, went quiet, or an I/O error: nothing more to send.
    Gone,
    /// A request was refused: answer and close.
    Refused(Refusal, bool),
}

async fn connection(
    stream: &Async<TcpStream>,
    peer: SocketAddr,
    pass: &Pass,
    limits: &Limits,
    jobs: &Sender<Job>,
) {
    let mut buf = Vec::new();
    // One reply channel for the connection's requests, which are answered one at a time.
    let (done, response) = smol::channel::bounded(1);
    loop {
        pass.waiting(true);
        match request(stream, &mut buf, peer, limits).await {
            Ok((request, reply)) => {
                pass.waiting(false);
                let job = Job {
                    request,
                    reply,
                    done: done.clone(),
                };
                if jobs.send(job).await.is_err() {
                    return;
                }
                let Ok(bytes) = response.recv().await else {
                    return;
                };
                let deadline = Instant::now() + limits.write_timeout;
                if within(deadline, write_all(stream, &bytes)).await.is_err() || reply.close {
                    return;
                }
                // Nothing buffered for the next request: give the memory back while idle.
                if buf.is_empty() {
                    buf = Vec::new();
                }
            }
            Err(End::Gone) => return,
            Err(End::Refused(refusal, http10)) => {
                let deadline = Instant::now() + limits.write_timeout.min(LINGER);
                let bytes = refusal_bytes(refusal, http10);
                if within(deadline, write_all(stream, &bytes)).await.is_ok() {
                    let _ = stream.get_ref().shutdown(std::net::Shutdown::Write);
                    let _ = within(Instant::now() + LINGER, discard(stream)).await;
                }
                return;
            }
        }
    }
}

/// Reads the next request: waits up to the idle timeout for its first byte, then up to the
/// request timeout for the rest. `buf` keeps bytes that arrived past it (pipelining).
async fn request(
    stream: &Async<TcpStream>,
    buf: &mut Vec<u8>,
    peer: SocketAddr,
    limits: &Limits,
) -> Result<(Request, Reply), End> {
    if buf.is_empty() {
        let idle = Instant::now() + limits.idle_timeout;
        within(idle, stream.readable())
            .await
            .map_err(|_| End::Gone)?;
    }
    let deadline = Instant::now() + limits.request_timeout;
    let head = loop {
        match wire::parse_head(buf, limits.max_body) {
            Ok(Some(head)) => break head,
            Ok(None) => read_more(stream, buf, MAX_HEAD, deadline).await?,
            Err(refusal) => return Err(End::Refused(refusal, false)),
        }
    };
    buf.drain(..head.len);
    let wire_max = wire::max_wire_body(head.body, limits.max_body);
    if head.expect_continue && head.body != Framing::Length(0) && buf.is_empty() {
        let continued = write_all(stream, b"HTTP/1.1 100 Continue\r\n\r\n");
        within(deadline, continued).await.map_err(|_| End::Gone)?;
    }
    let body = loop {
        match wire::take_body(buf, head.body, limits.max_body) {
            Ok(Some((body, used))) => {
                buf.drain(..used);
                break body;
            }
            Ok(None) => read_more(stream, buf, wire_max, deadline).await?,
            Err(refusal) => return Err(End::Refused(refusal, head.http10)),
        }
    };
    let reply = Reply {
        head_only: head.method.eq_ignore_ascii_case("HEAD"),
        close: !head.keep_alive,
        http10: head.http10,
    };
    let request = Request::fake_http_from(peer, head.method, head.url, head.headers, body);
    Ok((request, reply))
}

/// Bytes taken from a socket in one read.
const READ_CHUNK: usize = 4096;

thread_local! {
    /// The I/O thread's one read buffer: a read lands here and only what arrived is copied to
    /// the connection's buffer, so that no connection holds (or zeroes) a chunk it does not
    /// fill. Borrowed only inside a non-blocking read, never across an await.
    static SCRATCH: std::cell::RefCell<[u8; READ_CHUNK]> =
        const { std::cell::RefCell::new([0; READ_CHUNK]) };
}

/// Reads more bytes into `buf`, which holds at most `max` (more are left in the socket).
async fn read_more(
    stream: &Async<TcpStream>,
    buf: &mut Vec<u8>,
    max: usize,
    deadline: Instant,
) -> Result<(), End> {
    let want = max.saturating_sub(buf.len()).clamp(1, READ_CHUNK);
    let read = stream.read_with(|tcp| {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let chunk = scratch.get_mut(..want).ok_or(io::ErrorKind::InvalidInput)?;
            let n = io::Read::read(&mut &*tcp, chunk)?;
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            Ok(n)
        })
    });
    match within(deadline, read).await {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(End::Gone),
    }
}

async fn write_all(stream: &Async<TcpStream>, bytes: &[u8]) -> io::Result<()> {
    (&*stream).write_all(bytes).await
}

/// Reads and drops what the client still sends, up to `LINGER_BYTES`.
async fn discard(stream: &Async<TcpStream>) -> io::Result<()> {
    let mut sink = [0u8; 1024];
    let mut total = 0;
    while total < LINGER_BYTES {
        match (&*stream).read(&mut sink).await? {
            0 => break,
            n => total += n,
        }
    }
    Ok(())
}

/// `fut`, or a timeout error at `deadline`.
async fn within<T>(
    deadline: Instant,
    fut: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    smol::future::or(fut, async {
        Timer::at(deadline).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}
