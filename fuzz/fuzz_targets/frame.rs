//! Any bytes on the serial line, as the firmware's own no_std code sees them: the frame
//! reader must resynchronise and every frame it yields must decode to a request, a response
//! (learning messages included) or a typed `FrameError`, never a panic. A decoded message must survive a round trip.
//! The zero-run pixel decoder (behind the frame's CRC, which random bytes rarely pass) gets
//! the raw bytes too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_core::IMAGE_PIXELS;
use nn_core::protocol::{
    AnyRequest, AnyResponse, FrameReader, LearnReply, LearnRequest, MAX_FRAME, decode_any_request,
    decode_any_response, decode_request, decode_response, encode_learn_request,
    encode_learn_response, encode_request, encode_response, encode_tensor_request,
    encode_tensor_response, expand_zero_runs, learn_frame_len, tensor_frame_len, zero_runs,
};

fuzz_target!(|bytes: &[u8]| {
    // Sized like a board's for a 640-640 model (`max_frame_for`), so tensor frames fit.
    let mut reader = FrameReader::<{ nn_core::protocol::max_frame_for(640, 640) }>::new();
    for &byte in bytes {
        if let Some(Ok(frame)) = reader.push(byte) {
            let mut copy = frame.to_vec();
            check(frame);
            check(&mut copy);
        }
    }
    // The whole input as one frame too, terminator or not.
    check(&mut bytes.to_vec());

    let mut pixels = [0u8; IMAGE_PIXELS];
    if expand_zero_runs(bytes, &mut pixels).is_ok() {
        let mut runs = [0u8; 3 * IMAGE_PIXELS];
        let len = zero_runs(&pixels, &mut runs).expect("two bytes per pixel at most");
        let mut again = [0u8; IMAGE_PIXELS];
        assert_eq!(expand_zero_runs(&runs[..len], &mut again), Ok(()));
        assert_eq!(again, pixels);
    }
});

fn check(frame: &mut [u8]) {
    let mut copy = frame.to_vec();
    let mut any_request = frame.to_vec();
    let mut any_response = frame.to_vec();
    if let Ok(AnyRequest::Tensor(request)) = decode_any_request(&mut any_request) {
        let mut out = vec![0u8; tensor_frame_len(request.data.len())];
        let encoded = encode_tensor_request(&request, &mut out).expect("tensor_frame_len holds it");
        let mut again = encoded.to_vec();
        assert_eq!(
            decode_any_request(&mut again),
            Ok(AnyRequest::Tensor(request))
        );
    }
    if let Ok(AnyResponse::Tensor(response)) = decode_any_response(&mut any_response) {
        let mut out = vec![0u8; tensor_frame_len(response.data.len())];
        let encoded =
            encode_tensor_response(&response, &mut out).expect("tensor_frame_len holds it");
        let mut again = encoded.to_vec();
        assert_eq!(
            decode_any_response(&mut again),
            Ok(AnyResponse::Tensor(response))
        );
    }
    let mut learn_request = frame.to_vec();
    if let Ok(AnyRequest::Learn(request)) = decode_any_request(&mut learn_request) {
        let data = match request {
            LearnRequest::Example { data, .. } => data.len(),
            _ => 0,
        };
        let mut out = vec![0u8; learn_frame_len(data)];
        let encoded = encode_learn_request(&request, &mut out).expect("learn_frame_len holds it");
        let mut again = encoded.to_vec();
        let decoded = decode_any_request(&mut again).expect("a frame we just encoded");
        // Bit patterns: a NaN learning rate never equals itself.
        assert_eq!(
            format!("{decoded:?}"),
            format!("{:?}", AnyRequest::Learn(request))
        );
    }
    let mut learn_response = frame.to_vec();
    if let Ok(AnyResponse::Learn(response)) = decode_any_response(&mut learn_response) {
        let data = match response.reply {
            LearnReply::Head { data, .. } => data.len(),
            _ => 0,
        };
        let mut out = vec![0u8; learn_frame_len(data)];
        let encoded = encode_learn_response(&response, &mut out).expect("learn_frame_len holds it");
        let mut again = encoded.to_vec();
        let decoded = decode_any_response(&mut again).expect("a frame we just encoded");
        assert_eq!(
            format!("{decoded:?}"),
            format!("{:?}", AnyResponse::Learn(response))
        );
    }
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
