# A fleet of ssh hosts on this machine for the remote deployment suites
# (load after helpers.bash and deploy_helpers.bash). Each host is a network
# namespace sw-$MARK-I joined to the root namespace by a veth pair on a
# /29 of its own in 10.213.NET.0/24, with Debian's sshd listening on the
# host's address. The hosts share this machine's filesystem, so a host
# runs the slipway under test.
#
#   fleet_up N            N hosts h1..hN (skips the test without root,
#                         network namespaces or /usr/sbin/sshd); sets
#                         FLEET_DIR, FLEET_SSH_CONFIG, FLEET_ADDR[I],
#                         FLEET_DEAD (an address whose packets are dropped
#                         silently: nobody answers) and exports
#                         SLIPWAY_SSH (ssh -F the fleet's ssh_config)
#   fleet_kill_sshd I     kill everything in host I (sshd, its sessions
#                         and what they run)
#   fleet_cut I           drop every packet to host I (a network failure)
#   fleet_down            kill everything, delete the namespaces and the
#                         veths; idempotent, bounded, run by teardown
#
# In the fleet's ssh_config host hI is FLEET_ADDR[I], logged in as root
# with a key of the test's own and HOOKLOG=$T/hI.hooks.log sent to it (its
# sshd accepts HOOKLOG), so the hooks of each host log apart. The hosts'
# sshd sets SHLVL=1, so that bash, root's login shell, does not read
# root's ~/.bashrc for a command over ssh: the test hosts are clean
# machines, not this one's interactive set-up.

FLEET_SSHD=/usr/sbin/sshd

# Run teardown's previous body after the fleet's.
eval "fleet_prev_$(declare -f teardown)"

teardown() {
	fleet_down
	fleet_prev_teardown
}

fleet_skip_unless_able() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, sshd)"
	[ -x "$FLEET_SSHD" ] ||
		skip "needs $FLEET_SSHD (the openssh-server package)"
	if ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null
	then
		skip "needs ssh and ssh-keygen (the openssh-client package)"
	fi
	command -v ip >/dev/null || skip "needs ip (the iproute2 package)"
}

fleet_up() { # N
	local n=$1 i x try ns addr

	fleet_skip_unless_able
	[ "$n" -ge 1 ] && [ "$n" -le 30 ] || return 1
	FLEET_DIR=$T/fleet
	FLEET_SSH_CONFIG=$FLEET_DIR/ssh_config
	mkdir -p "$FLEET_DIR"
	if ! ip netns add "sw-$MARK-1" 2>"$FLEET_DIR/netns.err"; then
		skip "ip netns does not work here: $(<"$FLEET_DIR/netns.err")"
	fi
	echo 1 >"$FLEET_DIR/count"
	# A free /24: the veth of host 1 reserves it (creating a link with a
	# name in use fails, so two suites never share one).
	FLEET_NET=
	for ((try = 0; try < 250; try++)); do
		x=$(((MARK + try) % 250 + 1))
		if ip link add "swf$x-1" type veth peer name "swh$x-1" \
			2>/dev/null; then
			FLEET_NET=$x
			break
		fi
	done
	[ -n "$FLEET_NET" ] || {
		echo "fleet: no free 10.213.X.0/24" >&2
		return 1
	}
	echo "$FLEET_NET" >"$FLEET_DIR/net"
	echo "$n" >"$FLEET_DIR/count"
	ssh-keygen -q -t ed25519 -N '' -C fleet -f "$FLEET_DIR/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C fleet-host \
		-f "$FLEET_DIR/host_ed25519_key"
	# Debian's sshd will not start without its privilege separation
	# directory (the package's service makes it at boot).
	mkdir -p /run/sshd
	: >"$FLEET_SSH_CONFIG"
	FLEET_ADDR=()
	for ((i = 1; i <= n; i++)); do
		ns=sw-$MARK-$i
		addr=10.213.$x.$((8 * i + 2))
		# shellcheck disable=SC2034 # for the suites
		FLEET_ADDR[i]=$addr
		if [ "$i" -gt 1 ]; then
			ip netns add "$ns"
			ip link add "swf$x-$i" type veth peer name "swh$x-$i"
		fi
		ip link set "swh$x-$i" netns "$ns"
		ip addr add "10.213.$x.$((8 * i + 1))/29" dev "swf$x-$i"
		ip link set "swf$x-$i" up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$addr/29" dev "swh$x-$i"
		ip -n "$ns" link set "swh$x-$i" up
		cat >"$FLEET_DIR/sshd_config-$i" <<-CONF
			ListenAddress $addr
			Port 22
			HostKey $FLEET_DIR/host_ed25519_key
			PidFile $FLEET_DIR/sshd-$i.pid
			AuthorizedKeysFile $FLEET_DIR/id_ed25519.pub
			PermitRootLogin prohibit-password
			PubkeyAuthentication yes
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			UsePAM no
			StrictModes no
			UseDNS no
			AcceptEnv HOOKLOG
			SetEnv SHLVL=1
			LogLevel INFO
		CONF
		cat >>"$FLEET_SSH_CONFIG" <<-CONF
			Host h$i
			  HostName $addr
			  SetEnv HOOKLOG=$T/h$i.hooks.log
		CONF
		# not a job of the test's shell (no "Killed" notices), and
		# holding none of bats' descriptors
		(ip netns exec "$ns" "$FLEET_SSHD" -D \
			-f "$FLEET_DIR/sshd_config-$i" \
			-E "$FLEET_DIR/sshd-$i.log" </dev/null >/dev/null \
			2>&1 3>&- &)
	done
	cat >>"$FLEET_SSH_CONFIG" <<-CONF
		Host *
		  User root
		  IdentityFile $FLEET_DIR/id_ed25519
		  IdentitiesOnly yes
		  UserKnownHostsFile $FLEET_DIR/known_hosts
		  GlobalKnownHostsFile /dev/null
		  StrictHostKeyChecking accept-new
		  LogLevel ERROR
	CONF
	# Packets for FLEET_DEAD go to host 1, which drops them: a host that
	# never answers (no ICMP), as behind a firewall.
	FLEET_DEAD=10.213.$x.250
	ip route add "$FLEET_DEAD/32" via "10.213.$x.10"
	ip -n "sw-$MARK-1" route add blackhole "$FLEET_DEAD/32"
	export SLIPWAY_SSH="ssh -F $FLEET_SSH_CONFIG"
	for ((i = 1; i <= n; i++)); do
		fleet_wait_sshd "$i" || return 1
	done
}

# Wait (up to 5 s) until host I's sshd listens.
fleet_wait_sshd() { # I
	local log=$FLEET_DIR/sshd-$1.log t

	for ((t = 0; t < 50; t++)); do
		if grep -q "Server listening on" "$log" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "fleet: sshd of h$1 did not start:" >&2
	cat "$log" >&2 2>/dev/null
	return 1
}

# Kill every process in the namespace, for up to 2 s.
fleet_kill_ns() { # NAMESPACE
	local t pids

	for ((t = 0; t < 20; t++)); do
		pids=$(ip netns pids "$1" 2>/dev/null) || return 0
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.1
	done
}

fleet_kill_sshd() { # I
	fleet_kill_ns "sw-$MARK-$1"
}

# Cut host I off: its link goes down and packets to it are dropped, with
# no reset, as when a network fails.
fleet_cut() { # I
	ip link set "swf$FLEET_NET-$1" down
}

fleet_down() {
	local n x i p

	[ -n "${FLEET_DIR:-}" ] && [ -f "$FLEET_DIR/count" ] || return 0
	n=$(<"$FLEET_DIR/count")
	x=$(cat "$FLEET_DIR/net" 2>/dev/null) || x=
	# ssh's ControlPersist masters of this test (their command lines
	# name this test's directory)
	for p in $(pgrep -f -- "^ssh: $T/"); do
		kill -TERM "$p" 2>/dev/null || true
	done
	for ((i = 1; i <= n; i++)); do
		fleet_kill_ns "sw-$MARK-$i"
		ip netns del "sw-$MARK-$i" 2>/dev/null || true
		if [ -n "$x" ]; then
			ip link del "swf$x-$i" 2>/dev/null || true
		fi
	done
	if [ -n "$x" ]; then
		ip route del "10.213.$x.250/32" 2>/dev/null || true
	fi
	rm -f "$FLEET_DIR/count"
}
