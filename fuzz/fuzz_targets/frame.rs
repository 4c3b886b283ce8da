//! Any bytes on the serial line, as the firmware's own no_std code sees them: the frame
//! reader must resynchronise and every frame it yields must decode to a request, a response
//! or a typed `FrameError`, never a panic. A decoded message must survive a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_core::protocol::{
    FrameReader, MAX_FRAME, decode_request, decode_response, encode_request, encode_response,
};

fuzz_target!(|bytes: &[u8]| {
    let mut reader = FrameReader::<MAX_FRAME>::new();
    for &byte in bytes {
        if let Some(Ok(frame)) = reader.push(byte) {
            let mut copy = frame.to_vec();
            check(frame);
            check(&mut copy);
        }
    }
    // The whole input as one frame too, terminator or not.
    check(&mut bytes.to_vec());
});

fn check(frame: &mut [u8]) {
    let mut copy = frame.to_vec();
    if let Ok(request) = decode_request(frame) {
        let mut out = [0u8; MAX_FRAME];
        let encoded = encode_request(&request, &mut out).expect("MAX_FRAME holds any request");
        let mut again = encoded.to_vec();
        assert_eq!(decode_request(&mut again), Ok(request));
    }
    if let Ok(response) = decode_response(&mut copy) {
        let mut out = [0u8; MAX_FRAME];
        let encoded = encode_response(&response, &mut out).expect("MAX_FRAME holds any response");
        let mut again = encoded.to_vec();
        let decoded = decode_response(&mut again).expect("a frame we just encoded");
        // Compare bit patterns: a NaN probability never equals itself.
        assert_eq!(format!("{decoded:?}"), format!("{response:?}"));
    }
}
