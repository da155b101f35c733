"""Object detection (`task: object_detection`): boxes with class labels found in images by an
anchor-free, CenterNet-style head on the cnn / resnet image encoders' feature pyramid.

    boxes.py    IoU, class-aware batched NMS (torch; no torchvision)
    network.py  the encoder, an FPN-style neck and the heatmap / size / offset head
    targets.py  CenterNet training targets and loss, and decoding outputs into boxes
    data.py     box tables (CSV: image,x1,y1,x2,y2,label) and COCO JSON, checked
    model.py    the Python API (`Model.from_config` gives an `ObjectDetector`)
"""
