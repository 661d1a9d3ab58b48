package io.hashbrick.node.api.tcp;

/** A frame that breaks the format ({@link Frame}): the connection it came on is closed. */
final class CorruptFrameException extends Exception {
    CorruptFrameException(String fields) {
        super(fields, null, false, false); // expected input from a broken peer: no stack trace
    }
}
