import { execFile } from 'node:child_process';
import { UserError, type InterpreterInfo, type MarkerEnvironment } from '@nx-pex/pep';

/** The interpreter could not be run or did not answer as expected. */
export class InterpreterProbeError extends UserError {}

// Runs inside the target interpreter; prints one JSON object on stdout.
// The marker values are computed the way packaging.markers.default_environment() does.
// `inputs` lists the files the answer was read from besides the interpreter itself (the stdlib
// modules it imported, the shared libraries and data files mapped into the process: libpython,
// libc and the dynamic loader, plus the loader cache and macOS's version file), so that a
// cached answer can be checked against them.
export const PROBE_SCRIPT = String.raw`
import json, os, platform, sys, sysconfig

def full_version(info):
    v = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        v += info.releaselevel[0] + str(info.serial)
    return v

def glibc_version():
    try:
        v = os.confstr("CS_GNU_LIBC_VERSION")
        if v and v.startswith("glibc "):
            return v.split()[1]
    except (AttributeError, OSError, ValueError):
        pass
    name, v = platform.libc_ver()
    return v if name == "glibc" and v else None

def musl_version():
    import glob, re, subprocess
    for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
        try:
            out = subprocess.run([loader], stdout=subprocess.PIPE, stderr=subprocess.PIPE).stderr.decode("utf-8", "replace")
        except OSError:
            continue
        m = re.search(r"^Version (\d+)\.(\d+)", out, re.M)
        if m:
            return m.group(1) + "." + m.group(2)
    return None

libc = None
if sys.platform.startswith("linux"):
    g = glibc_version()
    if g:
        libc = {"name": "glibc", "version": g}
    else:
        m = musl_version()
        if m:
            libc = {"name": "musl", "version": m}

mac = platform.mac_ver()[0] if sys.platform == "darwin" else ""

def inputs():
    files = set()
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if isinstance(f, str) and os.path.isabs(f):
            files.add(f)
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.rstrip("\n").split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    files.add(parts[5])
    except OSError:
        pass
    for f in ("/etc/ld.so.cache", "/System/Library/CoreServices/SystemVersion.plist"):
        if os.path.exists(f):
            files.add(f)
    return sorted(files)

print(json.dumps({
    "implementation": sys.implementation.name,
    "version": list(sys.version_info[:3]),
    "abiflags": getattr(sys, "abiflags", ""),
    "platform": sysconfig.get_platform(),
    "machine": platform.machine(),
    "libc": libc,
    "mac": mac,
    "is32bit": sys.maxsize <= 2 ** 32,
    "executable": sys.executable,
    "markers": {
        "implementation_name": sys.implementation.name,
        "implementation_version": full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
    "inputs": inputs(),
}))
`;

interface ProbeOutput {
  implementation: string;
  version: number[];
  abiflags: string;
  platform: string;
  machine: string;
  libc: { name: 'glibc' | 'musl'; version: string } | null;
  mac: string;
  is32bit: boolean;
  executable: string;
  markers: MarkerEnvironment;
}

function twoNumbers(text: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Turns the probe script's JSON output into InterpreterInfo. */
export function interpreterInfoFromProbe(json: string, python = 'python3'): InterpreterInfo {
  let raw: ProbeOutput;
  try {
    raw = JSON.parse(json) as ProbeOutput;
  } catch {
    throw new InterpreterProbeError(`Interpreter '${python}' printed something that is not the expected JSON: ${json.slice(0, 200)}`);
  }
  const info: InterpreterInfo = {
    implementation: raw.implementation,
    version: [raw.version[0], raw.version[1], raw.version[2]],
    abiflags: raw.abiflags,
    platform: raw.platform,
    machine: raw.machine,
    markerEnvironment: raw.markers,
    executable: raw.executable,
    is32bit: raw.is32bit,
  };
  const libcVersion = raw.libc ? twoNumbers(raw.libc.version) : undefined;
  if (raw.libc && libcVersion) info.libc = { name: raw.libc.name, version: libcVersion };
  const mac = twoNumbers(raw.mac);
  if (mac) info.macosVersion = mac;
  return info;
}

/**
 * Runs the probe script with `command` (a name looked up on PATH or a path) and returns what it
 * printed; `python` is the name errors speak of.
 */
export function runProbe(command: string, env: NodeJS.ProcessEnv = process.env, python = command): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, ['-I', '-S', '-c', PROBE_SCRIPT], { encoding: 'utf8', timeout: 60_000, env: { ...env, SYSTEM_VERSION_COMPAT: '0' } }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          reject(new InterpreterProbeError(`Python interpreter '${python}' was not found. Install Python 3 or point the build at an interpreter path.`));
        } else if (code === 'EACCES') {
          reject(new InterpreterProbeError(`Python interpreter '${python}' is not executable.`));
        } else {
          reject(new InterpreterProbeError(`Python interpreter '${python}' failed to report its platform: ${(stderr || err.message).trim().split('\n').slice(-3).join(' ')}`));
        }
        return;
      }
      resolve(stdout.trim());
    });
  });
}

/** Runs `python` (default 'python3') once and reports what it is and which platform it runs on. */
export async function probeInterpreter(python = 'python3'): Promise<InterpreterInfo> {
  return interpreterInfoFromProbe(await runProbe(python, process.env, python), python);
}
