// faultfs: a FUSE passthrough of one directory whose writes can be made to fail, for issue #20's fault suite (this
// kernel has no device-mapper, so no dm-error; FUSE gives the same: errors returned by the kernel to the real
// syscalls of every process, SQLite's and FFmpeg's alike). Usage: faultfs BACKING MOUNTPOINT (as root; unmounts on
// SIGTERM). Signals set the fault: SIGUSR1 every create, write, fsync, truncate and allocate fails with EIO, SIGUSR2
// the same with ENOSPC, SIGHUP back to normal. Reads always work: what was written before stays readable.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

var fault atomic.Int32 // 0, or the errno every write gets

func failing() syscall.Errno { return syscall.Errno(fault.Load()) }

type node struct{ fs.LoopbackNode }

// The loopback file's operations (go-fuse's own type is unexported; these are what it implements and SQLite and
// FFmpeg use, locks included). Not implementing FilePassthroughFder keeps the kernel from bypassing us.
type loopFile interface {
	fs.FileReader
	fs.FileWriter
	fs.FileFlusher
	fs.FileFsyncer
	fs.FileReleaser
	fs.FileGetattrer
	fs.FileSetattrer
	fs.FileLseeker
	fs.FileAllocater
	fs.FileGetlker
	fs.FileSetlker
	fs.FileSetlkwer
}

type file struct{ loopFile }

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if e := failing(); e != 0 {
		return 0, e
	}
	return f.loopFile.Write(ctx, data, off)
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if e := failing(); e != 0 {
		return e
	}
	return f.loopFile.Fsync(ctx, flags)
}

func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if e := failing(); e != 0 {
		return e
	}
	return f.loopFile.Allocate(ctx, off, size, mode)
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, truncating := in.GetSize(); truncating {
		if e := failing(); e != 0 {
			return e
		}
	}
	return f.loopFile.Setattr(ctx, in, out)
}

func wrap(fh fs.FileHandle) fs.FileHandle {
	if lf, ok := fh.(loopFile); ok {
		return &file{lf}
	}
	panic(fmt.Sprintf("faultfs: unexpected file handle %T", fh))
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC) != 0 && flags&syscall.O_TRUNC != 0 {
		if e := failing(); e != 0 {
			return nil, 0, e
		}
	}
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return wrap(fh), fl &^ fuse.FOPEN_PASSTHROUGH, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if e := failing(); e != 0 {
		return nil, nil, 0, e
	}
	inode, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return inode, wrap(fh), fl &^ fuse.FOPEN_PASSTHROUGH, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := failing(); e != 0 {
		return nil, e
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, truncating := in.GetSize(); truncating {
		if e := failing(); e != 0 {
			return e
		}
	}
	return n.LoopbackNode.Setattr(ctx, fh, in, out)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: faultfs BACKING MOUNTPOINT")
		os.Exit(2)
	}
	backing, mountpoint := os.Args[1], os.Args[2]
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lr := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	lr.NewNode = func(rd *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{fs.LoopbackNode{RootData: rd}}
	}
	rootNode := &node{fs.LoopbackNode{RootData: lr}}
	lr.RootNode = rootNode
	server, err := fs.Mount(mountpoint, rootNode, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMount: true, FsName: "faultfs", Name: "faultfs"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for s := range signals {
			switch s {
			case syscall.SIGUSR1:
				fault.Store(int32(syscall.EIO))
			case syscall.SIGUSR2:
				fault.Store(int32(syscall.ENOSPC))
			case syscall.SIGHUP:
				fault.Store(0)
			default:
				_ = server.Unmount()
				return
			}
			fmt.Printf("fault %d\n", fault.Load())
		}
	}()
	fmt.Println("mounted")
	server.Wait()
}
