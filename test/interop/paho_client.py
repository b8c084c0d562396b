#!/usr/bin/python3
"""Eclipse Paho (Debian's python3-paho-mqtt) against a Culex broker, for test/interop.

usage: paho_client.py HOST PORT PROTOCOL PREFIX
  PROTOCOL is 31, 311 or 5. Runs one scenario and prints one JSON object on stdout:
  a subscriber on PREFIX/# (QoS 2), a publisher sending QoS 0, 1 and 2 and a retained
  message, then a late subscriber that must get the retained message, then a client
  with a will whose socket is dropped (the subscriber must get the will).
Works with paho-mqtt 1.x and 2.x (2.x is asked for the 1.x callback API).
Exit status 0 when the scenario ran to the end (the test checks the results), 1 on a timeout.
"""
import json
import random
import string
import sys
import threading
import time

import paho.mqtt
import paho.mqtt.client as mqtt

TIMEOUT = 5.0
HOST, PORT, PROTOCOL_ARG, PREFIX = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
PROTOCOL = {"31": mqtt.MQTTv31, "311": mqtt.MQTTv311, "5": mqtt.MQTTv5}[PROTOCOL_ARG]
V5 = PROTOCOL == mqtt.MQTTv5
errors = []


def code(value):
    """An int from a 1.x/2.x return code, ReasonCodes object or list of them."""
    if isinstance(value, (list, tuple)):
        return [code(v) for v in value]
    if hasattr(value, "value"):
        return int(value.value)
    return int(value)


def client_id(tag):
    # MQTT 3.1 client ids are at most 23 characters
    return "py%s-%s-%s" % (PROTOCOL_ARG, tag, "".join(random.choice(string.ascii_lowercase) for _ in range(6)))


class Peer:
    def __init__(self, tag, will=None):
        kwargs = {"client_id": client_id(tag), "protocol": PROTOCOL}
        if not V5:
            kwargs["clean_session"] = True
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, **kwargs)
        else:
            self.client = mqtt.Client(**kwargs)
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.connack = None
        self.granted = None
        self.messages = []
        self.lock = threading.Lock()
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=False)

    def on_connect(self, _client, _userdata, _flags, rc, _properties=None):
        self.connack = code(rc)
        self.connected.set()

    def on_subscribe(self, _client, _userdata, _mid, granted, _properties=None):
        self.granted = code(granted)
        self.subscribed.set()

    def on_message(self, _client, _userdata, msg):
        with self.lock:
            self.messages.append(
                {"topic": msg.topic, "payload": msg.payload.decode("utf-8"), "qos": msg.qos, "retain": bool(msg.retain)}
            )

    def connect(self, threaded=True):
        self.client.connect(HOST, PORT, keepalive=30)
        if threaded:
            self.client.loop_start()
            if not self.connected.wait(TIMEOUT):
                fail("no CONNACK")
            return self
        # no network thread (its select() would hold loop_stop() for a second): loop by hand
        deadline = time.monotonic() + TIMEOUT
        while not self.connected.is_set():
            if time.monotonic() > deadline:
                fail("no CONNACK")
            self.client.loop(timeout=0.05)
        return self

    def subscribe(self, topic, qos):
        self.subscribed.clear()
        self.client.subscribe(topic, qos)
        if not self.subscribed.wait(TIMEOUT):
            fail("no SUBACK for " + topic)
        return self.granted

    def wait_messages(self, count, what):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.01)
        fail("timed out waiting for %s; got %s" % (what, json.dumps(self.messages)))

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def fail(message):
    errors.append(message)
    print(json.dumps({"ok": False, "errors": errors}))
    sys.stdout.flush()
    sys.exit(1)


def main():
    result = {"paho_version": paho.mqtt.__version__, "protocol": PROTOCOL_ARG, "connack": {}}
    sub = Peer("sub").connect()
    result["connack"]["sub"] = sub.connack
    result["granted"] = sub.subscribe(PREFIX + "/#", 2)

    pub = Peer("pub").connect()
    result["connack"]["pub"] = pub.connack
    for qos in (0, 1, 2):
        info = pub.client.publish("%s/q%d" % (PREFIX, qos), "qos %d" % qos, qos=qos)
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            fail("QoS %d publish not completed" % qos)
    # paho hands an incoming QoS 2 message over only at PUBREL, so a later QoS 1 message can
    # overtake it at the client: wait for the three before the next publish keeps the order fixed
    sub.wait_messages(3, "the QoS 0/1/2 messages")
    info = pub.client.publish(PREFIX + "/retained", "kept", qos=1, retain=True)
    info.wait_for_publish(TIMEOUT)
    result["messages"] = sub.wait_messages(4, "the four messages")

    late = Peer("late").connect()
    result["connack"]["late"] = late.connack
    result["late_granted"] = late.subscribe(PREFIX + "/retained", 1)
    result["retained"] = late.wait_messages(1, "the retained message")

    # a will: the client's socket is dropped without DISCONNECT
    dying = Peer("will", will=(PREFIX + "/will", "gone")).connect(threaded=False)
    dying.client.socket().close()
    result["will"] = sub.wait_messages(5, "the will")[4:]

    # clear the retained message (empty payload) so a rerun starts clean
    pub.client.publish(PREFIX + "/retained", b"", qos=1, retain=True).wait_for_publish(TIMEOUT)
    for peer in (sub, pub, late):
        peer.stop()
    result["ok"] = True
    print(json.dumps(result))


if __name__ == "__main__":
    main()
