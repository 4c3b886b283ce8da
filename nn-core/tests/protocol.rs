//! Serial frames: exact bytes, round trips, every `FrameError`, resynchronisation after
//! garbage, and random input that must never panic.

use nn_core::Error;
use nn_core::protocol::{
    self, AnyRequest, AnyResponse, FrameError, FrameReader, MAX_FRAME, MAX_REQUEST_FRAME,
    MAX_RESPONSE_FRAME, Request, Response, ResponseBody, TensorElement, TensorRequest,
    TensorResponse, max_frame_for, tensor_frame_len,
};
use proptest::prelude::*;

mod common;
use common::{cobs_reference, frame_of};

fn encode_response(response: &Response) -> Vec<u8> {
    let mut out = [0u8; MAX_RESPONSE_FRAME];
    protocol::encode_response(response, &mut out)
        .unwrap()
        .to_vec()
}

fn encode_request(request: &Request) -> Vec<u8> {
    let mut out = [0u8; MAX_REQUEST_FRAME];
    protocol::encode_request(request, &mut out)
        .unwrap()
        .to_vec()
}

/// Every frame a board's `FrameReader` finds in `stream`, decoded as a request, in order.
fn read_requests(stream: &[u8]) -> Vec<Result<Request, FrameError>> {
    let mut reader = FrameReader::<MAX_FRAME>::new();
    stream
        .iter()
        .filter_map(|&b| {
            reader
                .push(b)
                .map(|frame| frame.and_then(protocol::decode_request))
        })
        .collect()
}

fn bad_crc_response() -> Response {
    Response {
        id: 1,
        body: ResponseBody::Error(FrameError::BadCrc),
    }
}

/// id 1 (varint 01), body variant 1 = Error (01), FrameError variant 3 = BadCrc (03);
/// zlib.crc32 of 01 01 03 is 0x7e91d3de; COBS: one zero-free run of 7 bytes (08 ...), then 00.
const BAD_CRC_FRAME: [u8; 9] = [0x08, 0x01, 0x01, 0x03, 0xDE, 0xD3, 0x91, 0x7E, 0x00];

fn encode_tensor_request(request: &TensorRequest<'_>) -> Vec<u8> {
    let mut out = vec![0u8; tensor_frame_len(request.data.len())];
    protocol::encode_tensor_request(request, &mut out)
        .unwrap()
        .to_vec()
}

fn encode_tensor_response(response: &TensorResponse<'_>) -> Vec<u8> {
    let mut out = vec![0u8; tensor_frame_len(response.data.len())];
    protocol::encode_tensor_response(response, &mut out)
        .unwrap()
        .to_vec()
}

#[test]
fn tensor_messages_encode_to_exact_bytes() {
    // Request tag 2, id 300 (AC 02), element 1 = I8, length 3, the bytes; then the CRC.
    let request = TensorRequest {
        id: 300,
        element: TensorElement::I8,
        data: &[0x01, 0x00, 0xFF],
    };
    let message = [0x02, 0xAC, 0x02, 0x01, 0x03, 0x01, 0x00, 0xFF];
    assert_eq!(encode_tensor_request(&request), frame_of(&message));
    // Response: id 7, body tag 2 = Tensor, element 2 = F32, length 4, 1.0 LE.
    let response = TensorResponse {
        id: 7,
        element: TensorElement::F32,
        data: &1.0f32.to_le_bytes(),
    };
    let message = [0x07, 0x02, 0x02, 0x04, 0x00, 0x00, 0x80, 0x3F];
    assert_eq!(encode_tensor_response(&response), frame_of(&message));
}

#[test]
fn tensor_messages_of_any_size_round_trip() {
    for len in [0, 1, 253, 254, 640, 2560, 70_000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        for element in [TensorElement::U8, TensorElement::I8, TensorElement::F32] {
            let request = TensorRequest {
                id: len as u32,
                element,
                data: &data,
            };
            let mut frame = encode_tensor_request(&request);
            assert!(frame.len() <= tensor_frame_len(len), "{len}");
            assert_eq!(
                protocol::decode_any_request(&mut frame),
                Ok(AnyRequest::Tensor(request))
            );
            let response = TensorResponse {
                id: u32::MAX,
                element,
                data: &data,
            };
            let mut frame = encode_tensor_response(&response);
            assert!(frame.len() <= tensor_frame_len(len), "{len}");
            assert_eq!(
                protocol::decode_any_response(&mut frame),
                Ok(AnyResponse::Tensor(response))
            );
        }
    }
}

#[test]
fn digit_messages_read_the_same_through_the_any_decoders() {
    let mut frame = encode_request(&sparse_request());
    assert_eq!(
        protocol::decode_any_request(&mut frame),
        Ok(AnyRequest::Digit(sparse_request()))
    );
    let mut frame = BAD_CRC_FRAME;
    assert_eq!(
        protocol::decode_any_response(&mut frame),
        Ok(AnyResponse::Digit(bad_crc_response()))
    );
    let wrong = Response {
        id: 9,
        body: ResponseBody::Error(FrameError::WrongInput),
    };
    let mut frame = encode_response(&wrong);
    assert_eq!(protocol::decode_response(&mut frame), Ok(wrong));
}

#[test]
fn the_digit_decoders_reject_tensor_messages_as_malformed() {
    let data = [1u8; 784];
    let request = TensorRequest {
        id: 1,
        element: TensorElement::U8,
        data: &data,
    };
    let mut frame = encode_tensor_request(&request);
    assert_eq!(
        protocol::decode_request(&mut frame),
        Err(FrameError::Malformed)
    );
    let response = TensorResponse {
        id: 1,
        element: TensorElement::I8,
        data: &data[..10],
    };
    let mut frame = encode_tensor_response(&response);
    assert_eq!(
        protocol::decode_response(&mut frame),
        Err(FrameError::Malformed)
    );
}

#[test]
fn a_tensor_whose_length_prefix_outruns_the_frame_is_truncated() {
    // Length 5, three bytes: postcard runs out inside the data.
    let mut frame = frame_of(&[0x02, 0x01, 0x01, 0x05, 0x01, 0x02, 0x03]);
    assert_eq!(
        protocol::decode_any_request(&mut frame),
        Err(FrameError::Truncated)
    );
    // An element tag past F32 is malformed.
    let mut frame = frame_of(&[0x02, 0x01, 0x03, 0x01, 0x01]);
    assert_eq!(
        protocol::decode_any_request(&mut frame),
        Err(FrameError::Malformed)
    );
    // Bytes left over after the data too.
    let mut frame = frame_of(&[0x02, 0x01, 0x01, 0x01, 0x01, 0x01]);
    assert_eq!(
        protocol::decode_any_request(&mut frame),
        Err(FrameError::Malformed)
    );
}

#[test]
fn a_board_sized_for_its_model_takes_its_tensors_and_reports_bigger_ones() {
    // The anomaly detector: 640 inputs and outputs, f32 at most: message tag 1 + id 5 +
    // element 1 + length 5 + 2560 + CRC 4 = 2576; COBS one byte per 254 started (11); then
    // the terminator.
    const FRAME: usize = max_frame_for(640, 640);
    assert_eq!(FRAME, 2576 + 11 + 1);
    // A digit model's f32 input is the largest of its messages.
    assert_eq!(max_frame_for(784, 10), tensor_frame_len(4 * 784));
    assert!(max_frame_for(1, 1) == MAX_FRAME);

    let mut reader = FrameReader::<FRAME>::new();
    let fits = vec![0x55u8; 4 * 640];
    let too_big = vec![0x55u8; 4 * 640 + 20];
    let mut stream = Vec::new();
    for data in [&too_big, &fits] {
        stream.extend(encode_tensor_request(&TensorRequest {
            id: 3,
            element: TensorElement::F32,
            data,
        }));
    }
    let read: Vec<_> = stream
        .iter()
        .filter_map(|&b| {
            reader.push(b).map(|f| {
                f.and_then(|f| {
                    protocol::decode_any_request(f)
                        .map(|r| matches!(r, AnyRequest::Tensor(t) if t.data.len() == 4 * 640))
                })
            })
        })
        .collect();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0], Err(FrameError::Oversized));
    assert_eq!(read[1], Ok(true));
}

#[test]
fn a_too_small_buffer_for_a_tensor_names_what_is_enough() {
    let data = [7u8; 300];
    let mut out = [0u8; 100];
    let request = TensorRequest {
        id: 1,
        element: TensorElement::U8,
        data: &data,
    };
    assert_eq!(
        protocol::encode_tensor_request(&request, &mut out),
        Err(Error::BufferTooSmall {
            needed: tensor_frame_len(300),
            found: 100
        })
    );
}

#[test]
fn frame_sizes_match_a_hand_count() {
    // Request: tag 1 + id ≤ 5 + 784 pixels + CRC 4 = 794 bytes; COBS adds one byte per 254
    // started (4); then the terminator.
    assert_eq!(MAX_REQUEST_FRAME, 794 + 4 + 1);
    // Response: id 5 + tag 1 + class 1 + 40 + CRC 4 = 51; COBS 1; terminator 1.
    assert_eq!(MAX_RESPONSE_FRAME, 53);
    assert_eq!(MAX_FRAME, MAX_REQUEST_FRAME);
}

#[test]
fn an_error_response_encodes_to_exact_bytes() {
    assert_eq!(encode_response(&bad_crc_response()), BAD_CRC_FRAME);
    assert_eq!(frame_of(&[0x01, 0x01, 0x03]), BAD_CRC_FRAME);
}

#[test]
fn a_prediction_response_encodes_to_exact_bytes() {
    let mut probabilities = [0.0; 10];
    probabilities[3] = 1.0;
    let response = Response {
        id: 300,
        body: ResponseBody::Prediction {
            class: 3,
            probabilities,
        },
    };
    // id 300 = varint AC 02, variant 0 = Prediction, class 3, then ten LE f32 (1.0 = 00 00 80 3F),
    // then CRC 0x1f1cb1e1; every zero is replaced by COBS's run lengths.
    #[rustfmt::skip]
    let expected = [
        0x03, 0xAC, 0x02, 0x02, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
        0x01, 0x01, 0x01, 0x01, 0x03, 0x80, 0x3F, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
        0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
        0x01, 0x01, 0x05, 0xE1, 0xB1, 0x1C, 0x1F, 0x00,
    ];
    assert_eq!(encode_response(&response), expected);
    let mut frame = expected;
    assert_eq!(protocol::decode_response(&mut frame), Ok(response));
}

#[test]
fn requests_without_long_zero_runs_travel_raw_including_the_worst_case() {
    let mut pixels = [0u8; 784];
    for (i, p) in pixels.iter_mut().enumerate() {
        *p = (i % 256) as u8;
    }
    for request in [
        Request { id: 0, pixels },
        Request {
            id: u32::MAX,
            pixels: [0xFF; 784],
        },
    ] {
        let mut frame = encode_request(&request);
        assert!(frame.len() <= MAX_REQUEST_FRAME);
        assert_eq!(frame.last(), Some(&0));
        assert!(!frame[..frame.len() - 1].contains(&0));
        // Tag 0 (raw), then postcard's id and the 784 bytes as they are.
        let mut message = vec![0x00];
        message.extend(postcard::to_allocvec(&request.id).unwrap());
        message.extend_from_slice(&request.pixels);
        assert_eq!(frame, frame_of(&message));
        assert_eq!(protocol::decode_request(&mut frame), Ok(request));
    }
    // u32::MAX's id takes 5 bytes: the longest frame there is.
    assert_eq!(
        encode_request(&Request {
            id: u32::MAX,
            pixels: [0xFF; 784]
        })
        .len(),
        MAX_REQUEST_FRAME
    );
}

/// Zero pixels except 0xAB at 300 and 0x01 at 301.
fn sparse_request() -> Request {
    let mut pixels = [0u8; 784];
    pixels[300] = 0xAB;
    pixels[301] = 0x01;
    Request { id: 7, pixels }
}

#[test]
fn a_sparse_request_travels_as_zero_runs_in_exact_bytes() {
    // Tag 1 (zero runs), id 7, 10 bytes of runs: 300 zeros = 255 + 45 (00 FF 00 2D), the two
    // pixels, 482 zeros = 255 + 227 (00 FF 00 E3).
    #[rustfmt::skip]
    let message = [
        0x01, 0x07, 0x0A,
        0x00, 0xFF, 0x00, 0x2D, 0xAB, 0x01, 0x00, 0xFF, 0x00, 0xE3,
    ];
    let mut frame = encode_request(&sparse_request());
    assert_eq!(frame, frame_of(&message));
    // 13 + CRC 4, one COBS byte, the terminator: 19 bytes where the raw form takes 792.
    assert_eq!(frame.len(), 19);
    assert_eq!(protocol::decode_request(&mut frame), Ok(sparse_request()));

    // All zeros: 784 = 3 × 255 + 19.
    let blank = Request {
        id: 300,
        pixels: [0; 784],
    };
    let message = [
        0x01, 0xAC, 0x02, 0x08, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x13,
    ];
    let mut frame = encode_request(&blank);
    assert_eq!(frame, frame_of(&message));
    assert_eq!(protocol::decode_request(&mut frame), Ok(blank));
}

#[test]
fn the_board_reads_the_raw_form_of_any_request_too() {
    let request = sparse_request();
    let mut message = vec![0x00, 0x07];
    message.extend_from_slice(&request.pixels);
    assert_eq!(
        protocol::decode_request(&mut frame_of(&message)),
        Ok(request)
    );
}

#[test]
fn zero_runs_that_do_not_fill_the_image_exactly_are_malformed() {
    let frame = |runs: &[u8]| {
        let mut message = vec![0x01, 0x07, runs.len() as u8];
        message.extend_from_slice(runs);
        frame_of(&message)
    };
    for (runs, why) in [
        (
            &[0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x12][..],
            "783 pixels",
        ),
        (
            &[0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x14],
            "785 pixels",
        ),
        (
            &[0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x13, 0x05],
            "785 pixels",
        ),
        (
            &[0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00],
            "a run without its count",
        ),
        (
            &[0x00, 0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x13],
            "a run of length 0",
        ),
        (&[], "no pixels"),
    ] {
        assert_eq!(
            protocol::decode_request(&mut frame(runs)),
            Err(FrameError::Malformed),
            "{why}"
        );
    }
}

#[test]
fn zero_runs_stop_when_out_is_full() {
    let pixels = [0u8, 0, 5, 0];
    let mut out = [0u8; 5];
    assert_eq!(protocol::zero_runs(&pixels, &mut out), Some(5));
    assert_eq!(out, [0x00, 0x02, 0x05, 0x00, 0x01]);
    assert_eq!(protocol::zero_runs(&pixels, &mut out[..4]), None);
    let mut back = [9u8; 4];
    assert_eq!(protocol::expand_zero_runs(&out, &mut back), Ok(()));
    assert_eq!(back, pixels);
}

#[test]
fn a_zero_before_each_request_ends_a_partial_frame_and_costs_nothing_else() {
    // What a host sends after an interrupted run: the board still holds half a request;
    // each new request is preceded by 00, which ends that half (one error) and is otherwise
    // an empty frame, skipped (no reply).
    let first = Request {
        id: 1,
        pixels: core::array::from_fn(|i| (i * 7 % 256) as u8),
    };
    let half = encode_request(&first);
    let mut stream = half[..half.len() / 2].to_vec();
    for request in [first, sparse_request()] {
        stream.push(0);
        stream.extend(encode_request(&request));
    }
    let results = read_requests(&stream);
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results[0].is_err(), "{results:?}");
    assert_eq!(results[1..], [Ok(first), Ok(sparse_request())]);
}

#[test]
fn decoding_accepts_frames_with_or_without_the_terminator() {
    let mut with = BAD_CRC_FRAME;
    assert_eq!(protocol::decode_response(&mut with), Ok(bad_crc_response()));
    let mut without = BAD_CRC_FRAME;
    assert_eq!(
        protocol::decode_response(&mut without[..8]),
        Ok(bad_crc_response())
    );
}

#[test]
fn a_too_small_buffer_is_reported() {
    let mut out = [0u8; 8];
    assert_eq!(
        protocol::encode_response(&bad_crc_response(), &mut out),
        Err(Error::BufferTooSmall {
            needed: MAX_RESPONSE_FRAME,
            found: 8
        })
    );
    let mut out = [0u8; 100];
    assert!(matches!(
        protocol::encode_request(
            &Request {
                id: 1,
                pixels: [1; 784]
            },
            &mut out
        ),
        Err(Error::BufferTooSmall { .. })
    ));
}

#[test]
fn an_oversized_frame_is_reported_at_its_terminator_then_the_reader_recovers() {
    let mut reader = FrameReader::<16>::new();
    for _ in 0..40 {
        assert_eq!(reader.push(0x55), None);
    }
    assert_eq!(reader.push(0), Some(Err(FrameError::Oversized)));
    let mut decoded = None;
    for &b in &BAD_CRC_FRAME {
        if let Some(frame) = reader.push(b) {
            decoded = Some(protocol::decode_response(frame.unwrap()));
        }
    }
    assert_eq!(decoded, Some(Ok(bad_crc_response())));
}

#[test]
fn a_frame_of_exactly_n_bytes_fits() {
    let mut reader = FrameReader::<8>::new();
    let mut frames = Vec::new();
    for &b in &BAD_CRC_FRAME {
        if let Some(frame) = reader.push(b) {
            frames.push(frame.map(|f| f.to_vec()));
        }
    }
    assert_eq!(frames, [Ok(BAD_CRC_FRAME[..8].to_vec())]);
}

#[test]
fn invalid_cobs_is_corrupt() {
    // The first code byte promises 9 more bytes; only 7 follow.
    let mut overrun = BAD_CRC_FRAME;
    overrun[0] = 0x0A;
    assert_eq!(
        protocol::decode_response(&mut overrun),
        Err(FrameError::Corrupt)
    );
    // A zero inside a frame cannot come from COBS.
    let mut inner_zero = BAD_CRC_FRAME;
    inner_zero[3] = 0;
    assert_eq!(
        protocol::decode_response(&mut inner_zero),
        Err(FrameError::Corrupt)
    );
}

#[test]
fn a_changed_byte_is_a_bad_crc() {
    let mut frame = BAD_CRC_FRAME;
    frame[3] = 0x02; // BadCrc → Truncated in the message; the checksum is still BadCrc's
    assert_eq!(
        protocol::decode_response(&mut frame),
        Err(FrameError::BadCrc)
    );
}

#[test]
fn short_frames_are_truncated() {
    // Nothing at all, and fewer bytes than a checksum.
    assert_eq!(
        protocol::decode_response(&mut [0]),
        Err(FrameError::Truncated)
    );
    assert_eq!(
        protocol::decode_response(&mut []),
        Err(FrameError::Truncated)
    );
    assert_eq!(
        protocol::decode_response(&mut cobs_reference(&[1, 2, 3])),
        Err(FrameError::Truncated)
    );
    // A valid checksum over a message that stops after its id.
    assert_eq!(
        protocol::decode_response(&mut frame_of(&[0x01])),
        Err(FrameError::Truncated)
    );
    // A response is far too short to be a request.
    assert_eq!(
        protocol::decode_request(&mut BAD_CRC_FRAME.clone()),
        Err(FrameError::Truncated)
    );
}

#[test]
fn a_checked_but_wrong_message_is_malformed() {
    // Body variant 5 does not exist.
    assert_eq!(
        protocol::decode_response(&mut frame_of(&[0x01, 0x05])),
        Err(FrameError::Malformed)
    );
    // A whole response and one byte more.
    assert_eq!(
        protocol::decode_response(&mut frame_of(&[0x01, 0x01, 0x03, 0x09])),
        Err(FrameError::Malformed)
    );
}

#[test]
fn garbage_then_a_valid_frame_still_decodes() {
    let request = Request {
        id: 42,
        pixels: core::array::from_fn(|i| (i * 7 % 256) as u8),
    };
    let mut stream = vec![0x13, 0x37, 0xFF, 0x02, 0x00, 0x02, 0x09, 0x00, 0x00];
    stream.extend(encode_request(&request));
    let results = read_requests(&stream);
    assert_eq!(
        results,
        [
            Err(FrameError::Corrupt),
            Err(FrameError::Truncated),
            Ok(request)
        ]
    );
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut reader = FrameReader::<64>::new();
        for &b in &bytes {
            if let Some(Ok(frame)) = reader.push(b) {
                let mut copies = [frame.to_vec(), frame.to_vec(), frame.to_vec()];
                let _ = protocol::decode_response(frame);
                let _ = protocol::decode_request(&mut copies[0]);
                let _ = protocol::decode_any_request(&mut copies[1]);
                let _ = protocol::decode_any_response(&mut copies[2]);
            }
        }
        let mut whole = bytes.clone();
        let _ = protocol::decode_request(&mut whole);
        let mut whole = bytes.clone();
        let _ = protocol::decode_any_response(&mut whole);
    }

    #[test]
    fn responses_round_trip(
        id in any::<u32>(),
        class in any::<u8>(),
        probabilities in proptest::array::uniform10(-1e30f32..1e30),
    ) {
        let response = Response { id, body: ResponseBody::Prediction { class, probabilities } };
        let mut frame = encode_response(&response);
        prop_assert!(frame.len() <= MAX_RESPONSE_FRAME);
        prop_assert_eq!(protocol::decode_response(&mut frame), Ok(response));
    }

    #[test]
    fn requests_round_trip_through_a_reader(
        id in any::<u32>(),
        // Zeros half the time: runs of every length, and images on both sides of the
        // raw/zero-run cut.
        pixels in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 784),
    ) {
        let request = Request { id, pixels: pixels.try_into().unwrap() };
        let frame = encode_request(&request);
        prop_assert!(frame.len() <= MAX_REQUEST_FRAME);
        let got = read_requests(&frame).pop();
        prop_assert_eq!(got, Some(Ok(request)));
    }
}
