#!/usr/bin/env bash
# Starts a single-node Slurm cluster on this machine (munge, slurmctld, slurmd) for the Slurm
# executor's tests: the node has the machine's real CPUs and memory, processes are tracked without
# cgroups (proctrack/linuxproc, task/none), and there is no accounting database (job states come
# from squeue and scontrol). Needs root and Debian's slurm-wlm and munge. Idempotent.
#
#   scripts/slurm-local.sh          start (or check) the cluster
#   scripts/slurm-local.sh stop     stop it
set -euo pipefail
conf=/etc/slurm/slurm.conf
if [ "${1:-}" = "stop" ]; then
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
  exit 0
fi
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

# munge: a key, its directories, the daemon.
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge && chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 755 /run/munge
if ! pgrep -x munged >/dev/null; then runuser -u munge -- /usr/sbin/munged; fi

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > "$conf" <<CONF
ClusterName=pinkflow
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=2048
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/none
MinJobAge=3600
KillWait=5
InactiveLimit=0
SchedulerParameters=defer_batch=0
SchedulerTimeSlice=5
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
if pgrep -x slurmctld >/dev/null; then scontrol reconfigure; else /usr/sbin/slurmctld; fi
if ! pgrep -x slurmd >/dev/null; then /usr/sbin/slurmd; fi
for i in $(seq 1 60); do
  if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    echo "slurm: node $host up ($cpus CPUs, $mem MiB)"
    exit 0
  fi
  scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  sleep 1
done
echo "slurm: the node did not come up; see /var/log/slurm/" >&2
sinfo >&2 || true
tail -20 /var/log/slurm/slurmd.log /var/log/slurm/slurmctld.log >&2 || true
exit 1
