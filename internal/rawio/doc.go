// Package rawio reads and writes TCP connections with raw, non-blocking
// system calls: the same read and write, waiting on Go's network poller
// when the socket is not ready, but without telling the scheduler that the
// goroutine has entered a system call.
//
// A system call made through package syscall marks its P as in a system
// call. The runtime's monitor thread (sysmon), which then wakes every 20
// microseconds, hands such a P to another thread when the call spans one
// of its ticks, and wakes itself from a deep sleep on the next call. That
// is right for calls that block. A read or write on a non-blocking socket
// does not block, but on loopback a write does the receiving end's TCP
// work, and on a virtual machine a call can take tens of microseconds: in
// the lb, under load, the hand-offs and the monitor's own wake-ups came to
// about half of its context switches (docs/performance.md). A raw call keeps
// its P: the thread is busy on a CPU either way, and the scheduler sees a
// goroutine that runs.
//
// Conn.DeferWritesToRead holds a request's writes for the read of its
// answer, which sends them inside the read operation and then waits,
// without the read that would find nothing yet.
//
// Everything else stays net's: deadlines, close, addresses and the poller
// wait, through (*net.TCPConn).SyscallConn. Conn embeds the *net.TCPConn,
// so SetLinger, CloseWrite and SyscallConn keep working. Only unix has the
// raw path; elsewhere Wrap returns the connection unchanged.
//
// LoopConn (Linux) is for tasks on event loops (package evloop): Detach
// takes a connection out of Go's poller altogether, by duplicating its
// descriptor and closing the original, and a read or write that would
// block parks the task on its loop, which alone watches the socket. A
// socket left in Go's poller as well woke an idle runtime thread for each
// of its packets, for nothing: a quarter of the lb's CPU on loops. A
// goroutine that is not a task may still use a LoopConn; the first time one
// must wait, the connection joins Go's poller through another duplicate.
// LoopListener detaches every connection it accepts.
package rawio
