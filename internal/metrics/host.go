package metrics

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
	"github.com/prometheus/procfs/blockdevice"
)

// skipDisk matches block devices that are not disks of their own: loop and
// RAM devices, and partitions, whose I/O their disk already counts.
var skipDisk = regexp.MustCompile(`^(z?ram|loop|fd|sr|(h|s|v|xv)d[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+)\d*$`)

// hostCollector reads the host's CPU, memory, disk I/O, network and file
// descriptors from /proc when a scrape comes. A server in its own network
// namespace sees its own interfaces.
type hostCollector struct {
	proc  procfs.FS
	block blockdevice.FS
	ok    bool // the block device FS opened

	cpu, cpus, memTotal, memAvail               *prometheus.Desc
	diskRead, diskWritten, diskIO, netRx, netTx *prometheus.Desc
	fdsAlloc, fdsMax                            *prometheus.Desc
}

// NewHostCollector returns the host collector, reading /proc and /sys.
func NewHostCollector() (prometheus.Collector, error) {
	p, err := procfs.NewFS(procfs.DefaultMountPoint)
	if err != nil {
		return nil, err
	}
	c := &hostCollector{proc: p}
	if b, err := blockdevice.NewFS(procfs.DefaultMountPoint, "/sys"); err == nil {
		c.block, c.ok = b, true
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	c.cpu = d(HostCPUSeconds, "Seconds the host's CPUs spent in each mode, summed over CPUs.", LabelMode)
	c.cpus = d(HostCPUs, "CPUs the host has.")
	c.memTotal = d(HostMemoryTotal, "Memory the host has.")
	c.memAvail = d(HostMemoryAvailable, "Memory available to new work without swapping (MemAvailable).")
	c.diskRead = d(HostDiskReadBytes, "Bytes read from the disk.", LabelDevice)
	c.diskWritten = d(HostDiskWrittenBytes, "Bytes written to the disk.", LabelDevice)
	c.diskIO = d(HostDiskIOSeconds, "Seconds the disk spent doing I/O.", LabelDevice)
	c.netRx = d(HostNetReceiveBytes, "Bytes received on the network interface.", LabelDevice)
	c.netTx = d(HostNetTransmitBytes, "Bytes sent on the network interface.", LabelDevice)
	c.fdsAlloc = d(HostFDsAllocated, "File descriptors allocated on the host.")
	c.fdsMax = d(HostFDsMax, "The most file descriptors the host allows.")
	return c, nil
}

func (c *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.cpus, c.memTotal, c.memAvail, c.diskRead,
		c.diskWritten, c.diskIO, c.netRx, c.netTx, c.fdsAlloc, c.fdsMax} {
		ch <- d
	}
}

// Collect exports what it can read; a file that cannot be read leaves its
// metrics out of this scrape rather than failing the others.
func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if st, err := c.proc.Stat(); err == nil {
		t := st.CPUTotal
		for _, m := range []struct {
			mode string
			v    float64
		}{{"user", t.User}, {"nice", t.Nice}, {"system", t.System}, {"idle", t.Idle}, {"iowait", t.Iowait},
			{"irq", t.IRQ}, {"softirq", t.SoftIRQ}, {"steal", t.Steal}} {
			counter(c.cpu, m.v, m.mode)
		}
		gauge(c.cpus, float64(len(st.CPU)))
	}
	if mi, err := c.proc.Meminfo(); err == nil && mi.MemTotalBytes != nil && mi.MemAvailableBytes != nil {
		gauge(c.memTotal, float64(*mi.MemTotalBytes))
		gauge(c.memAvail, float64(*mi.MemAvailableBytes))
	}
	if c.ok {
		if disks, err := c.block.ProcDiskstats(); err == nil {
			for _, d := range disks {
				if skipDisk.MatchString(d.DeviceName) {
					continue
				}
				// /proc/diskstats counts 512-byte sectors, whatever the disk's own sector size.
				counter(c.diskRead, float64(d.ReadSectors)*512, d.DeviceName)
				counter(c.diskWritten, float64(d.WriteSectors)*512, d.DeviceName)
				counter(c.diskIO, float64(d.IOsTotalTicks)/1000, d.DeviceName)
			}
		}
	}
	if nd, err := c.proc.NetDev(); err == nil {
		for name, l := range nd {
			counter(c.netRx, float64(l.RxBytes), name)
			counter(c.netTx, float64(l.TxBytes), name)
		}
	}
	if fds, err := c.proc.SysctlInts("fs.file-nr"); err == nil && len(fds) == 3 {
		gauge(c.fdsAlloc, float64(fds[0]))
		gauge(c.fdsMax, float64(fds[2]))
	}
}
