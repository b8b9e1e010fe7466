#!/usr/bin/env python3
"""check_compose.py -- check the container deployment against the dagprof binary.

    compose/check_compose.py [--file COMPOSE] [--project-directory DIR]
                             [--dagprof BIN] [REPO]

No container engine is needed, and no network. The checks:

- the compose file has a Kafka broker in KRaft mode, an init service creating
  every topic dagprof uses (dag-spans with at least one partition per
  processor), Redis with an append-only file on a volume, at least three
  `dagprof run` replicas in one consumer group, and a `dagprof loadgen`;
- every dagprof service runs a subcommand the binary has, and the binary
  accepts its whole environment (the image's ENV plus the service's) and
  arguments: each service's command is run as
  `env -i <environment> dagprof <subcommand> <args> --print-config`, which
  exits 2 on an unknown DAGPROF_* variable or a bad value;
- every kafka.* setting is accepted by librdkafka itself (loaded with ctypes),
  since dagprof passes those through unchecked;
- bootstrap servers, Redis host and port, depends_on targets and volumes refer
  to what the file defines; services agree on topic names;
- the Dockerfile: Debian bookworm stages, every COPY source exists in the
  build context and is not left out by .dockerignore, a non-root user,
  ENTRYPOINT ["dagprof"], a HEALTHCHECK on /healthz, no -dev package at run
  time, and every shared library the binary links comes from a package the
  runtime stage installs.

REPO defaults to this script's parent directory; COMPOSE to
REPO/compose/docker-compose.yml; relative paths in the compose file are
resolved from DIR (default: the compose file's directory), as
`docker compose --project-directory` does; BIN to $DAGPROF_BIN, else
REPO/build/dagprof. Variables in the compose file take their ${VAR:-default};
the caller's environment is not used, so the result is the same everywhere.

Prints one line per check. Exit status: 0 all checks passed, 1 some failed,
2 the checks could not run (bad arguments, no binary, PyYAML or librdkafka
missing). Needs the Python standard library and PyYAML (python3-yaml).
"""

import argparse
import base64
import ctypes
import ctypes.util
import glob
import json
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:
    print("check_compose: PyYAML is missing (apt-get install python3-yaml)", file=sys.stderr)
    sys.exit(2)

# Topics every dagprof subcommand reads its names from; all must exist.
TOPIC_OPTIONS = ("topic.spans", "topic.profiles", "topic.recommendations", "topic.deadletter")
KAFKA_IMAGES = ("apache/kafka", "bitnami/kafka")
PATH_DIRS = ("/usr/local/bin", "/usr/bin", "/bin")
LOOPBACK = ("127.", "localhost", "::1")
# Linked only by -fsanitize builds (the CI's sanitizer run); not a release dependency.
SANITIZER_RUNTIME = re.compile(r"^lib(a|ub|t|l|hwa)san\.so")
# The binary answers --print-config or --help at once; only a broken
# command line would make it start working, and this stops it.
DAGPROF_TIMEOUT_S = 60


class CannotCheck(Exception):
    """The checks cannot run at all (exit status 2)."""


class Report:
    """Counts checks and prints one line per check."""

    def __init__(self):
        self.checks = 0
        self.failures = 0

    def ok(self, what):
        self.checks += 1
        print("ok    " + what)

    def fail(self, what):
        self.checks += 1
        self.failures += 1
        print("FAIL  " + what)

    def note(self, what):
        """Something not checked, and why."""
        print("note  " + what)

    def expect(self, condition, what, failure):
        """ok(what) when condition holds, else fail(failure). Returns condition."""
        if condition:
            self.ok(what)
        else:
            self.fail(failure)
        return bool(condition)


# ---- compose file ----

INTERPOLATION = re.compile(
    r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value, report, where, reported):
    """Compose's ${VAR} substitution in every string, with defaults only.
    A variable without default is reported once (in `reported`), where first met."""
    if isinstance(value, dict):
        return {k: interpolate(v, report, "%s.%s" % (where, k), reported)
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, report, "%s[%d]" % (where, i), reported)
                for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match):
        escaped, name, operator, argument, bare = match.groups()
        if escaped:
            return "$"
        if operator in (":-", "-"):
            return argument
        variable = name or bare
        if variable not in reported:
            reported.add(variable)
            report.fail("%s: %s has no default, so its value depends on the host; "
                        "write ${%s:-value}" % (where, match.group(0), variable))
        return ""

    return INTERPOLATION.sub(substitute, value)


def image_name(service):
    """The image's repository, without docker.io/, tag or digest."""
    image = str(service.get("image") or "").split("@")[0]
    if ":" in image.rsplit("/", 1)[-1]:
        image = image[:image.rfind(":")]
    return image[len("docker.io/"):] if image.startswith("docker.io/") else image


def command_list(value):
    """A compose command or entrypoint as a list (a string is split like a shell)."""
    if value is None:
        return None
    if isinstance(value, list):
        return [str(item) for item in value]
    return shlex.split(str(value))


def environment(service, project_dir, report, where):
    """The service's environment (env_file, then environment) as str -> str."""
    result = {}
    env_files = service.get("env_file") or []
    if isinstance(env_files, (str, dict)):
        env_files = [env_files]
    for entry in env_files:
        path = entry["path"] if isinstance(entry, dict) else entry
        full = os.path.join(project_dir, path)
        try:
            with open(full, encoding="utf-8") as handle:
                for line in handle:
                    line = line.strip()
                    if line and not line.startswith("#") and "=" in line:
                        key, value = line.split("=", 1)
                        result[key.strip()] = value.strip().strip("'\"")
        except OSError as error:
            report.fail("%s: env_file %s cannot be read: %s" % (where, path, error.strerror))
    declared = service.get("environment") or {}
    if isinstance(declared, list):
        pairs = [item.split("=", 1) if "=" in item else (item, None) for item in declared]
    else:
        pairs = list(declared.items())
    for key, value in pairs:
        if value is None:
            report.fail("%s: %s takes its value from the host; give it one in the file "
                        "(${%s:-value}) so it can be checked" % (where, key, key))
        elif isinstance(value, bool):
            report.fail("%s: %s is a YAML boolean, which compose rejects; quote it"
                        % (where, key))
        else:
            result[str(key)] = str(value)
    return result


def volume_mounts(service):
    """(source, target) of each volume entry; source None for anonymous volumes."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            mounts.append((entry.get("source"), entry.get("target")))
            continue
        parts = str(entry).split(":")
        mounts.append((parts[0], parts[1]) if len(parts) >= 2 else (None, parts[0]))
    return mounts


def is_named_volume(source):
    return source is not None and not source.startswith((".", "/", "~", "$"))


def depends_on(service):
    """depends_on as {service: condition}."""
    value = service.get("depends_on") or {}
    if isinstance(value, list):
        return {name: "service_started" for name in value}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in value.items()}


def replicas(service):
    deploy = service.get("deploy") or {}
    count = deploy.get("replicas", service.get("scale", 1))
    return int(count)


def healthcheck_disabled(service):
    check = service.get("healthcheck")
    if not isinstance(check, dict):
        return False
    return bool(check.get("disable")) or command_list(check.get("test")) == ["NONE"]


def healthcheck_replaced(service):
    """True when the service disables the image's healthcheck or has its own test."""
    check = service.get("healthcheck")
    return healthcheck_disabled(service) or (isinstance(check, dict) and "test" in check)


def kafka_setting(env, name):
    """A broker setting from apache/kafka (KAFKA_X) or bitnami (KAFKA_CFG_X) style."""
    return env.get("KAFKA_" + name, env.get("KAFKA_CFG_" + name))


# ---- Dockerfile ----

def dockerfile_instructions(text):
    """(keyword, arguments) per instruction: continuations joined, comments dropped."""
    instructions = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        if full:
            keyword, _, arguments = full.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    if pending.strip():
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def exec_form(arguments):
    """An instruction's arguments as a list: JSON (exec) form or shell form."""
    if arguments.startswith("["):
        try:
            value = json.loads(arguments)
            if isinstance(value, list):
                return [str(item) for item in value]
        except ValueError:
            pass
    return ["/bin/sh", "-c", arguments]


def copy_arguments(arguments):
    """(flags, sources, destination) of a COPY or ADD."""
    flags = {}
    rest = arguments
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        name, _, value = flag[2:].partition("=")
        flags[name] = value
        rest = rest.lstrip()
    paths = exec_form(rest) if rest.startswith("[") else shlex.split(rest)
    return flags, paths[:-1], paths[-1] if paths else ""


class Stage:
    """What the checks need of one Dockerfile stage."""

    def __init__(self, base, name, parent):
        self.base = base
        self.name = name
        self.copies = []  # (flags, sources, destination) of this stage's COPY and ADD
        self.cmd_set = False
        # The rest is inherited from a parent stage (FROM <stage>).
        self.env = dict(parent.env) if parent else {}
        self.packages = list(parent.packages) if parent else []
        self.installed = list(parent.installed) if parent else []  # COPY --from targets
        self.user = parent.user if parent else None
        self.entrypoint = parent.entrypoint if parent else None
        self.cmd = parent.cmd if parent else None
        self.healthcheck = parent.healthcheck if parent else None


def parse_env(arguments, env):
    words = shlex.split(arguments)
    if words and "=" not in words[0]:
        env[words[0]] = arguments.split(None, 1)[1] if len(words) > 1 else ""
        return
    for word in words:
        key, _, value = word.partition("=")
        env[key] = value


def apt_packages(arguments):
    """Packages named by `apt-get install` in a RUN instruction."""
    packages = []
    words = shlex.split(arguments.replace(";", " ; "))
    for i, word in enumerate(words):
        if word in ("apt-get", "apt") and "install" in words[i + 1:i + 2]:
            for item in words[i + 2:]:
                if item in ("&&", "||", ";", "|"):
                    break
                if not item.startswith("-"):
                    packages.append(item)
    return packages


def parse_dockerfile(text):
    stages = []
    for keyword, arguments in dockerfile_instructions(text):
        if keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            base = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            parent = next((s for s in stages if s.name == base), None)
            stages.append(Stage(base, name, parent))
            continue
        if not stages:
            continue
        stage = stages[-1]
        if keyword == "ENV":
            parse_env(arguments, stage.env)
        elif keyword in ("COPY", "ADD"):
            flags, sources, destination = copy_arguments(arguments)
            stage.copies.append((flags, sources, destination))
            if "from" in flags:
                stage.installed.extend(
                    os.path.join(destination, os.path.basename(s.rstrip("/")))
                    if destination.endswith("/") else destination for s in sources)
        elif keyword == "RUN":
            stage.packages.extend(apt_packages(arguments))
        elif keyword == "USER":
            stage.user = arguments
        elif keyword == "ENTRYPOINT":
            stage.entrypoint = exec_form(arguments)
            if not stage.cmd_set:
                stage.cmd = None  # as Docker does: an inherited CMD is reset
        elif keyword == "CMD":
            stage.cmd = exec_form(arguments)
            stage.cmd_set = True
        elif keyword == "HEALTHCHECK":
            stage.healthcheck = None if arguments.upper() == "NONE" else arguments
    return stages


def display_path(path, context):
    """A path relative to the build context when inside it, else absolute."""
    if os.path.commonpath([context, path]) == context:
        return os.path.relpath(path, context)
    return path


def dockerignore_patterns(context, dockerfile):
    """(pattern regex, negated) from <Dockerfile>.dockerignore or .dockerignore."""
    for candidate in (dockerfile + ".dockerignore", os.path.join(context, ".dockerignore")):
        if os.path.isfile(candidate):
            break
    else:
        return None, []
    patterns = []
    with open(candidate, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = os.path.normpath(line[1:] if negated else line).lstrip("/")
            regex = ""
            i = 0
            while i < len(pattern):
                if pattern.startswith("**", i):
                    regex += ".*"
                    i += 2
                elif pattern[i] == "*":
                    regex += "[^/]*"
                    i += 1
                elif pattern[i] == "?":
                    regex += "[^/]"
                    i += 1
                else:
                    regex += re.escape(pattern[i])
                    i += 1
            patterns.append((re.compile(regex + r"\Z"), negated))
    return candidate, patterns


def ignored(path, patterns):
    """Docker's rule: the last pattern matching the path or a parent decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for regex, negated in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            result = not negated
    return result


def context_files(context, source):
    """Files (relative to the context) a COPY source names; None if it names nothing."""
    matches = glob.glob(os.path.join(context, source))
    if not matches:
        return None
    files = []
    for match in matches:
        if os.path.isdir(match):
            for root, _, names in os.walk(match):
                files.extend(os.path.relpath(os.path.join(root, n), context) for n in names)
        else:
            files.append(os.path.relpath(match, context))
    return sorted(files)


# ---- the binary ----

def run_dagprof(binary, argv, env):
    try:
        done = subprocess.run([binary] + argv, env=env, capture_output=True, text=True,
                              timeout=DAGPROF_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return -1, "", "did not exit within %d s" % DAGPROF_TIMEOUT_S
    return done.returncode, done.stdout, done.stderr


def parse_dump(text):
    """--print-config output: {key: (value, source)}."""
    config = {}
    for line in text.splitlines():
        setting, _, source = line.rpartition("  # ")
        key, _, value = setting.partition(" = ")
        if key:
            config[key] = (value, source)
    return config


class Librdkafka:
    """librdkafka's own validation of configuration properties."""

    def __init__(self):
        names = [ctypes.util.find_library("rdkafka"), "librdkafka.so.1"]
        self.lib = None
        for name in names:
            if not name:
                continue
            try:
                self.lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if self.lib is None:
            raise CannotCheck("librdkafka cannot be loaded (apt-get install librdkafka1)")
        self.lib.rd_kafka_conf_new.restype = ctypes.c_void_p
        self.lib.rd_kafka_conf_set.restype = ctypes.c_int
        self.lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                               ctypes.c_char_p, ctypes.c_char_p,
                                               ctypes.c_size_t]
        self.lib.rd_kafka_conf_destroy.argtypes = [ctypes.c_void_p]

    def check(self, key, value):
        """None when librdkafka accepts key = value, else its error message."""
        conf = self.lib.rd_kafka_conf_new()
        errstr = ctypes.create_string_buffer(512)
        try:
            rc = self.lib.rd_kafka_conf_set(conf, key.encode(), value.encode(), errstr,
                                            ctypes.sizeof(errstr))
        finally:
            self.lib.rd_kafka_conf_destroy(conf)
        return None if rc == 0 else errstr.value.decode(errors="replace")


def linked_packages(binary):
    """{soname: set of Debian packages holding it} for the binary's NEEDED entries."""
    try:
        needed = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                                check=True).stdout
        cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                               check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise CannotCheck("cannot list the binary's libraries: %s" % error)
    sonames = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", needed)
    paths = {}
    for soname in sonames:
        match = re.search(r"^\s*%s \([^)]*\) => (\S+)$" % re.escape(soname), cache, re.M)
        if match:
            path = os.path.realpath(match.group(1))
            # dpkg lists a file under /lib or /usr/lib: ask for both (merged /usr).
            other = path[4:] if path.startswith("/usr/") else "/usr" + path
            paths[soname] = (path, other)
    try:
        found = subprocess.run(["dpkg", "-S"] + [p for pair in paths.values() for p in pair],
                               capture_output=True, text=True, check=False).stdout
    except OSError as error:
        raise CannotCheck("dpkg is needed to map libraries to packages: %s" % error)
    owners = {}
    for line in found.splitlines():
        packages, _, path = line.rpartition(": ")
        for package in packages.split(", "):
            owners.setdefault(path, set()).add(package.split(":")[0])
    return {soname: set().union(*(owners.get(p, set()) for p in paths.get(soname, ())))
            for soname in sonames}


# ---- the checks ----

class Checker:
    def __init__(self, compose_path, project_dir, binary):
        self.compose_path = compose_path
        self.project_dir = project_dir
        self.binary = binary
        self.report = Report()
        self.librdkafka = Librdkafka()
        self.subcommands = {}

    def run(self):
        report = self.report
        try:
            with open(self.compose_path, encoding="utf-8") as handle:
                document = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as error:
            report.fail("%s cannot be read as YAML: %s" % (self.compose_path, error))
            return
        if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
            report.fail("%s has no services mapping" % self.compose_path)
            return
        report.ok("%s parses; services: %s" % (self.compose_path,
                                               ", ".join(document["services"])))
        document = interpolate(document, report, "compose", set())
        self.services = document["services"]
        self.volumes = document.get("volumes") or {}
        self.check_images()
        self.check_references()
        broker = self.check_kafka()
        created = self.check_kafka_init(broker)
        redis = self.check_redis()
        self.check_dagprof_services(broker, created, redis)

    # -- references between services --

    def check_references(self):
        for name, service in self.services.items():
            for target, condition in depends_on(service).items():
                if target not in self.services:
                    self.report.fail("service %s: depends_on %s, which is not a service"
                                     % (name, target))
                elif condition == "service_healthy":
                    target_service = self.services[target]
                    image = self.image_for(target_service)
                    has_check = not healthcheck_disabled(target_service) and (
                        healthcheck_replaced(target_service) or
                        (image is not None and image.healthcheck is not None))
                    self.report.expect(has_check,
                                       "service %s waits for %s to be healthy, which has a "
                                       "healthcheck" % (name, target),
                                       "service %s waits for %s to be healthy, but %s has no "
                                       "healthcheck: it would wait forever"
                                       % (name, target, target))
            for source, target in volume_mounts(service):
                if is_named_volume(source):
                    self.report.expect(source in self.volumes,
                                       "service %s: volume %s is declared" % (name, source),
                                       "service %s mounts volume %s, which the top-level "
                                       "volumes do not declare" % (name, source))

    # -- Kafka --

    def kafka_services(self):
        return {name: s for name, s in self.services.items()
                if image_name(s).endswith(KAFKA_IMAGES)}

    def check_kafka(self):
        """The broker service's name and environment, or None."""
        brokers = {}
        for name, service in self.kafka_services().items():
            env = environment(service, self.project_dir, self.report, "service " + name)
            if kafka_setting(env, "PROCESS_ROLES") is not None:
                brokers[name] = env
        if not self.report.expect(len(brokers) == 1,
                                  "one Kafka broker service: %s" % ", ".join(brokers),
                                  "expected one Kafka broker service (%s image with "
                                  "KAFKA_PROCESS_ROLES), found %d" % (" or ".join(KAFKA_IMAGES),
                                                                      len(brokers))):
            return None
        name, env = next(iter(brokers.items()))
        service = self.services[name]
        roles = set(kafka_setting(env, "PROCESS_ROLES").replace(" ", "").split(","))
        self.report.expect(roles == {"broker", "controller"} and
                           kafka_setting(env, "ZOOKEEPER_CONNECT") is None,
                           "service %s: Kafka in KRaft mode, broker and controller" % name,
                           "service %s: KAFKA_PROCESS_ROLES is %s and ZooKeeper is %s; a single "
                           "KRaft node needs broker,controller and no ZooKeeper"
                           % (name, ",".join(sorted(roles)),
                              kafka_setting(env, "ZOOKEEPER_CONNECT")))
        cluster_id = env.get("CLUSTER_ID", env.get("KAFKA_KRAFT_CLUSTER_ID", ""))
        try:
            valid_id = len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
        except ValueError:
            valid_id = False
        self.report.expect(valid_id, "service %s: CLUSTER_ID %s is a KRaft cluster id" %
                           (name, cluster_id),
                           "service %s: CLUSTER_ID \"%s\" is not 16 bytes in URL-safe base64 "
                           "(kafka-storage.sh random-uuid makes one)" % (name, cluster_id))
        log_dirs = kafka_setting(env, "LOG_DIRS") or "/tmp/kraft-combined-logs"
        targets = [t for s, t in volume_mounts(service) if s is not None]
        persisted = all(any(d == t or d.startswith(t.rstrip("/") + "/") for t in targets)
                        for d in log_dirs.split(","))
        self.report.expect(persisted, "service %s: log dirs %s are on a volume" % (name, log_dirs),
                           "service %s: log dirs %s are not on a volume: the topics would "
                           "vanish with the container while Redis keeps its traces"
                           % (name, log_dirs))
        auto_create = str(kafka_setting(env, "AUTO_CREATE_TOPICS_ENABLE")).lower()
        self.report.expect(auto_create == "false",
                           "service %s: topics are not auto-created" % name,
                           "service %s: set KAFKA_AUTO_CREATE_TOPICS_ENABLE=false so only the "
                           "init service creates topics, with their partition counts" % name)
        advertised = kafka_setting(env, "ADVERTISED_LISTENERS") or ""
        addresses = set(re.findall(r"://([^,\s]+)", advertised))
        return {"name": name, "advertised": addresses}

    def check_kafka_init(self, broker):
        """{topic: partitions} the init service creates."""
        created = {}
        inits = []
        for name, service in self.kafka_services().items():
            script = " ".join((command_list(service.get("entrypoint")) or []) +
                              (command_list(service.get("command")) or []))
            if "--create" not in script:
                continue
            inits.append(name)
            for line in script.splitlines():
                if "--create" not in line:
                    continue
                topic = re.search(r"--topic[= ]+(\S+)", line)
                partitions = re.search(r"--partitions[= ]+(\d+)", line)
                if topic:
                    created[topic.group(1)] = int(partitions.group(1)) if partitions else 1
            if broker:
                self.report.expect(
                    depends_on(service).get(broker["name"]) == "service_healthy",
                    "service %s starts once %s is healthy" % (name, broker["name"]),
                    "service %s must depend on %s with condition service_healthy, or topic "
                    "creation races the broker's start" % (name, broker["name"]))
        self.init_services = inits
        if self.report.expect(inits, "topics are created by %s: %s" % (
                ", ".join(inits), ", ".join("%s (%d partitions)" % item
                                            for item in created.items())),
                              "no service creates the topics (kafka-topics.sh --create)"):
            return created
        return {}

    # -- Redis --

    def check_redis(self):
        """(service name, port) of the Redis service, or None."""
        # the nodes of the "cluster" profile are checked by check_run_service
        found = {n: s for n, s in self.services.items()
                 if (image_name(s) == "redis" or image_name(s).endswith("/redis"))
                 and "cluster" not in s.get("profiles", [])}
        if not self.report.expect(len(found) == 1, "one Redis service: %s" % ", ".join(found),
                                  "expected one Redis service, found %d" % len(found)):
            return None
        name, service = next(iter(found.items()))
        argv = command_list(service.get("command")) or []
        options = {}
        for i, word in enumerate(argv):
            if word.startswith("--") and i + 1 < len(argv):
                options[word[2:]] = argv[i + 1]
        self.report.expect(options.get("appendonly") == "yes",
                           "service %s: append-only file on" % name,
                           "service %s: start redis-server with --appendonly yes, or a restart "
                           "loses every stored span" % name)
        data_dir = options.get("dir", "/data")
        targets = [t for s, t in volume_mounts(service) if s is not None]
        self.report.expect(data_dir in targets, "service %s: data dir %s is a volume" %
                           (name, data_dir),
                           "service %s: its data dir %s is not a volume" % (name, data_dir))
        return name, options.get("port", "6379")

    # -- the dagprof image --

    def build_key(self, service):
        """(context, Dockerfile path) a service builds, or None."""
        build = service.get("build")
        if build is None:
            return None
        if isinstance(build, str):
            build = {"context": build}
        context = os.path.normpath(os.path.join(self.project_dir, build.get("context", ".")))
        dockerfile = os.path.join(context, build.get("dockerfile", "Dockerfile"))
        return context, os.path.normpath(dockerfile)

    def check_images(self):
        """Check each Dockerfile a service builds; remember its final stage."""
        self.images = {}  # build key -> final Stage (None when unreadable)
        self.built = {}  # image name a built service tags -> its final Stage
        for service in self.services.values():
            key = self.build_key(service)
            if key is None:
                continue
            if key not in self.images:
                self.images[key] = self.check_dockerfile(*key)
            if service.get("image"):
                self.built[service["image"]] = self.images[key]

    def is_dagprof(self, service):
        return "build" in service or service.get("image") in self.built

    def image_for(self, service):
        """The final Stage of the dagprof image a service runs, or None."""
        key = self.build_key(service)
        return self.images.get(key) if key else self.built.get(service.get("image"))

    def service_argv(self, service):
        """What the container runs: entrypoint + command, as Docker combines them."""
        image = self.image_for(service)
        entrypoint = command_list(service.get("entrypoint"))
        command = command_list(service.get("command"))
        if entrypoint is None:
            entrypoint = image.entrypoint if image else None
            if command is None:
                command = image.cmd if image else None
        return (entrypoint or []) + (command or [])

    def check_dockerfile(self, context, dockerfile):
        report = self.report
        shown = display_path(dockerfile, context)
        try:
            with open(dockerfile, encoding="utf-8") as handle:
                stages = parse_dockerfile(handle.read())
        except OSError as error:
            report.fail("Dockerfile %s cannot be read: %s" % (dockerfile, error.strerror))
            return None
        except ValueError as error:  # shlex: unbalanced quotes
            report.fail("Dockerfile %s cannot be parsed: %s" % (shown, error))
            return None
        if not report.expect(stages, "Dockerfile %s parses" % shown,
                             "Dockerfile %s has no FROM" % shown):
            return None
        names = {s.name for s in stages if s.name}
        bases = [s.base for s in stages if s.base not in names]
        report.expect(len(stages) >= 2 and all(b.startswith("debian:bookworm") for b in bases),
                      "%s: %d stages on %s" % (shown, len(stages), ", ".join(bases)),
                      "%s: expected a multi-stage build on debian:bookworm images, found %s"
                      % (shown, ", ".join(bases)))
        ignore_file, patterns = dockerignore_patterns(context, dockerfile)
        for stage in stages:
            for flags, sources, destination in stage.copies:
                if "from" in flags:
                    continue
                for source in sources:
                    if re.match(r"^[a-z]+://", source):
                        continue
                    files = context_files(context, source)
                    if not report.expect(files is not None, "%s: COPY %s exists in the context" %
                                         (shown, source),
                                         "%s: COPY %s: no such file in the build context %s"
                                         % (shown, source, context)):
                        continue
                    left_out = [f for f in files if ignored(f, patterns)]
                    report.expect(not left_out, "%s: COPY %s is kept by %s" %
                                  (shown, source, display_path(ignore_file, context)
                                   if ignore_file else "the context (no .dockerignore)"),
                                  "%s: COPY %s: %s leaves out %s" %
                                  (shown, source, display_path(ignore_file, context),
                                   ", ".join(left_out[:3])))
        final = stages[-1]
        user = (final.user or "root").split(":")[0]
        report.expect(user not in ("root", "0"), "%s: runs as user %s" % (shown, user),
                      "%s: the runtime stage runs as root; add a USER" % shown)
        binaries = [p for p in final.installed
                    if os.path.dirname(p) in PATH_DIRS and os.path.basename(p) == "dagprof"]
        report.expect(final.entrypoint and final.entrypoint[0] == "dagprof" and binaries,
                      "%s: ENTRYPOINT [\"dagprof\"], installed as %s" %
                      (shown, ", ".join(binaries)),
                      "%s: expected ENTRYPOINT [\"dagprof\"] and the binary copied into one "
                      "of %s" % (shown, ", ".join(PATH_DIRS)))
        report.expect(final.healthcheck and "/healthz" in final.healthcheck,
                      "%s: HEALTHCHECK probes /healthz" % shown,
                      "%s: the runtime stage needs a HEALTHCHECK on /healthz" % shown)
        dev = [p for p in final.packages if p.endswith("-dev")]
        report.expect(not dev, "%s: runtime packages %s" % (shown, " ".join(final.packages)),
                      "%s: the runtime stage installs development packages: %s"
                      % (shown, " ".join(dev)))
        for soname, owners in sorted(linked_packages(self.binary).items()):
            if SANITIZER_RUNTIME.match(soname):
                report.note("%s: %s is a sanitizer runtime (this is a sanitizer build), "
                            "which the image does not ship" % (shown, soname))
                continue
            # libc6 is in every Debian image.
            report.expect(owners & (set(final.packages) | {"libc6"}),
                          "%s: %s comes from %s" % (shown, soname, " ".join(sorted(owners))),
                          "%s: dagprof links %s, from %s, which the runtime stage does not "
                          "install" % (shown, soname, " or ".join(sorted(owners)) or
                                       "no known package"))
        return final

    # -- the dagprof services --

    def subcommand_exists(self, subcommand):
        if subcommand not in self.subcommands:
            rc, _, _ = run_dagprof(self.binary, [subcommand, "--help"], {})
            self.subcommands[subcommand] = rc == 0
        return self.subcommands[subcommand]

    def check_dagprof_services(self, broker, created, redis):
        report = self.report
        runs = {}  # service -> (replicas, group.id), services started by default only
        topics = {}  # topic option -> {service: topic}
        subcommands = set()
        for name, service in self.services.items():
            if not self.is_dagprof(service):
                continue
            image = self.image_for(service)
            where = "service " + name
            argv = self.service_argv(service)
            if not report.expect(len(argv) >= 2 and os.path.basename(argv[0]) == "dagprof",
                                 "%s runs dagprof %s" % (where, argv[1] if len(argv) > 1 else ""),
                                 "%s: its command %s does not run a dagprof subcommand"
                                 % (where, argv)):
                continue
            subcommand, arguments = argv[1], argv[2:]
            if not report.expect(self.subcommand_exists(subcommand),
                                 "%s: dagprof has the subcommand %s" % (where, subcommand),
                                 "%s: dagprof has no subcommand \"%s\"" % (where, subcommand)):
                continue
            subcommands.add(subcommand)
            env = dict(image.env) if image else {}
            env.update(environment(service, self.project_dir, report, where))
            config = self.check_config(where, subcommand, arguments, env)
            if subcommand == "run" and not service.get("profiles"):
                # The group is unknown (None) when the configuration was rejected.
                runs[name] = (replicas(service), config["group.id"][0] if config else None)
            if config is None:
                continue
            for option in TOPIC_OPTIONS:
                topics.setdefault(option, {})[name] = config[option][0]
            has_image_check = image is not None and image.healthcheck is not None
            replaced = healthcheck_replaced(service)
            if subcommand == "run":
                self.check_run_service(where, config, has_image_check and not replaced, redis)
            elif has_image_check:
                report.expect(replaced, "%s: the image's /healthz check is disabled" % where,
                              "%s: `dagprof %s` serves no /healthz, so the image's HEALTHCHECK "
                              "would mark it unhealthy; set healthcheck: disable: true"
                              % (where, subcommand))
            if subcommand != "profile":
                self.check_bootstrap(where, config, broker)
            if self.init_services:
                waits = [i for i in self.init_services
                         if depends_on(service).get(i) == "service_completed_successfully"]
                report.expect(waits, "%s starts after %s created the topics" %
                              (where, ", ".join(waits)),
                              "%s must depend on %s with condition "
                              "service_completed_successfully, or it may start before its "
                              "topics exist" % (where, " or ".join(self.init_services)))
        self.check_topics(topics, created, runs)
        self.check_group(runs)
        report.expect("loadgen" in subcommands, "a dagprof loadgen service is present",
                      "no service runs dagprof loadgen")

    def check_config(self, where, subcommand, arguments, env):
        """The effective configuration, {key: (value, source)}, or None."""
        report = self.report
        if "--" in arguments:
            cut = arguments.index("--")
            argv = [subcommand] + arguments[:cut] + ["--print-config=true"] + arguments[cut:]
        else:
            argv = [subcommand] + arguments + ["--print-config=true"]
        rc, out, err = run_dagprof(self.binary, argv, env)
        names = sorted(k for k in env if k.startswith("DAGPROF_"))
        if not report.expect(rc == 0,
                             "%s: `dagprof %s` accepts its arguments and %s" %
                             (where, " ".join([subcommand] + arguments), ", ".join(names)),
                             "%s: `dagprof %s` rejects its configuration (exit %d): %s" %
                             (where, " ".join([subcommand] + arguments), rc,
                              err.strip() or out.strip())):
            return None
        config = parse_dump(out)
        if not report.expect(all(o in config for o in TOPIC_OPTIONS + ("group.id",)),
                             "%s: effective configuration printed" % where,
                             "%s: --print-config printed no configuration: %s" %
                             (where, out.strip()[:200])):
            return None
        for key, (value, source) in sorted(config.items()):
            if not key.startswith("kafka.") or source == "default":
                continue
            problem = self.librdkafka.check(key[len("kafka."):], value)
            report.expect(problem is None,
                          "%s: librdkafka accepts %s = %s" % (where, key[len("kafka."):], value),
                          "%s: librdkafka rejects %s from %s: %s" % (where, key, source, problem))
        return config

    def check_run_service(self, where, config, image_probe, redis):
        report = self.report
        bind, _ = config["metrics.bind"]
        port, port_source = config["metrics.port"]
        report.expect(port != "0" and not bind.startswith(LOOPBACK),
                      "%s: metrics served on %s:%s" % (where, bind, port),
                      "%s: metrics on %s:%s cannot be scraped from other containers; set "
                      "DAGPROF_METRICS_BIND=0.0.0.0 and a non-zero port" % (where, bind, port))
        if image_probe:
            report.expect(port_source in ("default", "env DAGPROF_METRICS_PORT"),
                          "%s: the image's HEALTHCHECK finds metrics port %s" % (where, port),
                          "%s: metrics.port comes from %s, but the image's HEALTHCHECK reads "
                          "DAGPROF_METRICS_PORT; set the port there" % (where, port_source))
        nodes = config.get("redis.nodes", ("", ""))[0]
        if nodes:
            # a Redis Cluster: every seed is a service of the file
            unknown = [n for n in nodes.split(",") if n.strip().rsplit(":", 1)[0] not in self.services]
            report.expect(not unknown, "%s: Redis Cluster seeds %s are services" % (where, nodes),
                          "%s: redis.nodes %s names no service" % (where, ",".join(unknown)))
        elif redis:
            host, _ = config["redis.host"]
            redis_port, _ = config["redis.port"]
            report.expect((host, redis_port) == redis,
                          "%s: Redis at %s:%s is the redis service" % (where, host, redis_port),
                          "%s: redis.host:port is %s:%s, but the Redis service is %s:%s"
                          % ((where, host, redis_port) + tuple(redis)))

    def check_bootstrap(self, where, config, broker):
        if not broker:
            return
        servers, _ = config["kafka.bootstrap.servers"]
        unknown = [s for s in servers.split(",") if s.strip() not in broker["advertised"]]
        self.report.expect(not unknown,
                           "%s: bootstrap servers %s are advertised by %s" %
                           (where, servers, broker["name"]),
                           "%s: bootstrap server %s is none of the addresses %s "
                           "advertises (%s)" % (where, ", ".join(unknown), broker["name"],
                                                ", ".join(sorted(broker["advertised"]))))

    def check_topics(self, topics, created, runs):
        report = self.report
        for option, by_service in sorted(topics.items()):
            values = sorted(set(by_service.values()))
            if not report.expect(len(values) == 1,
                                 "%s is %s in every dagprof service" % (option, values[0]),
                                 "%s differs between services: %s" % (option, ", ".join(
                                     "%s=%s" % item for item in sorted(by_service.items())))):
                continue
            report.expect(values[0] in created,
                          "topic %s (%s) is created" % (values[0], option),
                          "topic %s (%s) is not created by the init service" %
                          (values[0], option))
        processors = sum(count for count, _ in runs.values())
        spans = (topics.get("topic.spans") or {}).values()
        for topic in sorted(set(spans)):
            if topic in created:
                report.expect(created[topic] >= processors,
                              "topic %s has %d partitions for %d processors" %
                              (topic, created[topic], processors),
                              "topic %s has %d partitions for %d processors: some would "
                              "get no input" % (topic, created[topic], processors))

    def check_group(self, runs):
        processors = sum(count for count, _ in runs.values())
        groups = sorted({group for _, group in runs.values() if group is not None})
        self.report.expect(processors >= 3 and len(groups) <= 1,
                           "%d dagprof run processors in consumer group %s" %
                           (processors, ", ".join(groups) or "(not known)"),
                           "expected at least 3 dagprof run processors in one consumer group, "
                           "found %d in group(s) %s" % (processors, ", ".join(groups) or "none"))


def main():
    parser = argparse.ArgumentParser(
        description="Check the dagprof compose file and Dockerfile against the dagprof binary.")
    parser.add_argument("repo", nargs="?",
                        default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="the repository (default: this script's parent directory)")
    parser.add_argument("--file", "-f",
                        help="compose file (default REPO/compose/docker-compose.yml)")
    parser.add_argument("--project-directory",
                        help="base of relative paths in the file (default: its directory)")
    parser.add_argument("--dagprof", help="the dagprof binary (default $DAGPROF_BIN, "
                                          "else REPO/build/dagprof)")
    args = parser.parse_args()

    compose_path = os.path.abspath(args.file or os.path.join(args.repo, "compose",
                                                             "docker-compose.yml"))
    project_dir = os.path.abspath(args.project_directory or os.path.dirname(compose_path))
    binary = os.path.abspath(args.dagprof or os.environ.get("DAGPROF_BIN") or
                             os.path.join(args.repo, "build", "dagprof"))
    try:
        if not os.access(binary, os.X_OK):
            raise CannotCheck("no dagprof binary at %s (build it, or pass --dagprof)" % binary)
        rc, out, err = run_dagprof(binary, ["version"], {})
        if rc != 0:
            raise CannotCheck("%s version failed (exit %d): %s" % (binary, rc, err.strip()))
        print("check_compose: %s with %s" % (compose_path, out.strip()))
        checker = Checker(compose_path, project_dir, binary)
        checker.run()
    except CannotCheck as error:
        print("check_compose: cannot check: %s" % error, file=sys.stderr)
        return 2
    report = checker.report
    print("check_compose: %d checks, %d failed" % (report.checks, report.failures))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
